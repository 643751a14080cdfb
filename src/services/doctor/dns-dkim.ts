/**
 * A domain's DKIM key records (RFC 6376 §3.6.2): each active or pending key published at its selector,
 * as one TXT record, with this server's public key; a wrong record is named by what is wrong with it
 * (quotes, syntax, key type, revoked, truncated, another key).
 */
import { dkimTxtValue, parseDkimKeyRecord } from '../../mail/dkim/record.js';
import type { DkimKeyRecord } from '../../store/index.js';
import { zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { query } from './findings.js';

/** Returns whether an active key is published as it should be (DKIM can pass for this server's mail). */
export async function checkDkim(i: DomainDnsInputs, add: AddFinding): Promise<boolean> {
  let dkimOk = false;
  for (const key of i.dkimKeys) {
    const isPublished = await checkDkimKey(i, add, key);
    dkimOk = dkimOk || (isPublished && key.status === 'active');
  }
  return dkimOk;
}

/** One key; true when its record is published and matches. */
async function checkDkimKey(i: DomainDnsInputs, add: AddFinding, key: DkimKeyRecord): Promise<boolean> {
  const { domain, resolve } = i;
  const name = `${key.selector}._domainkey.${domain}`;
  const fix = zoneLines(i.expected, (r) => r.name === `${name}.`);
  const expectedValue = dkimTxtValue(key);
  const r = await query<string[]>(resolve, name, 'TXT');
  if (r.error) {
    add({
      id: 'dns.lookup-failed',
      severity: 'error',
      summary: `${name} could not be looked up (${r.error})`,
      why: 'receivers treat a DKIM key lookup failure as a temporary error',
      observed: r.error,
      expected: 'an answer',
      fix: `check the name servers of ${domain}`,
    });
    return false;
  }
  const records = r.records;
  if (records.length === 0) {
    if (key.status === 'pending') {
      add({
        id: 'dkim.pending',
        severity: 'warning',
        summary: `the new DKIM key ${key.selector} is not published yet`,
        why: 'Postern keeps signing with the previous key until this one is in DNS',
        observed: `no TXT at ${name}`,
        expected: expectedValue,
        fix,
      });
      return false;
    }
    const doubled = await query<string[]>(resolve, `${name}.${domain}`, 'TXT');
    const hint = doubled.records.length
      ? `\n; it is published at ${name}.${domain}: the DNS panel appended the domain — enter only "${key.selector}._domainkey" as the name`
      : '';
    add({
      id: 'dkim.missing',
      severity: 'error',
      summary: `no DKIM key record at ${name} (selector ${key.selector})`,
      why: 'receivers look the key up by the selector in each signature; without it DKIM fails and DMARC relies on SPF alone',
      observed: doubled.records.length ? `found at ${name}.${domain} instead` : 'no TXT record (wrong selector name?)',
      expected: expectedValue,
      fix: fix + hint,
    });
    return false;
  }
  const joined = records.map((parts) => parts.join(''));
  const keyType = key.algorithm === 'ed25519' ? 'ed25519' : 'rsa';
  const matches = joined.filter((t) => {
    const p = parseDkimKeyRecord(t);
    return p.problems.length === 0 && p.publicKey === key.publicKey && p.keyType === keyType;
  });
  if (records.length > 1 && matches.length === 0) {
    const together = parseDkimKeyRecord(joined.join(''));
    const split =
      together.publicKey === key.publicKey ||
      (together.publicKey !== undefined && key.publicKey.startsWith(together.publicKey.slice(0, 40)));
    add({
      id: split ? 'dkim.split-records' : 'dkim.multiple',
      severity: 'error',
      summary: split
        ? `the DKIM key at ${name} is split over ${records.length} TXT records instead of one record of several strings`
        : `${records.length} TXT records at ${name}, none with this server's key`,
      why: 'a verifier reads each TXT record as a whole key: a key broken across records is unreadable, and several records make the result undefined',
      observed: joined.map((t) => JSON.stringify(t.slice(0, 60) + (t.length > 60 ? '…' : ''))).join(' | '),
      expected: 'one TXT record whose strings join to the key',
      fix,
    });
    return false;
  }
  if (matches.length) return true;
  reportDkimMismatch(add, key, name, records, fix);
  return false;
}

/** The published record differs from this server's key: says how, most specific first. */
function reportDkimMismatch(
  add: AddFinding,
  key: DkimKeyRecord,
  name: string,
  records: readonly string[][],
  fix: string,
): void {
  const expectedValue = dkimTxtValue(key);
  const joined = records.map((parts) => parts.join(''));
  const keyType = key.algorithm === 'ed25519' ? 'ed25519' : 'rsa';
  const value = joined[0]!;
  const parsed = parseDkimKeyRecord(value);
  const strings = records[0]!;
  const badStrings = strings.length > 1 && strings.some((s) => /^\s*"|"\s*$/.test(s));
  let id = 'dkim.key-mismatch';
  let summary = `the DKIM record at ${name} holds a different public key`;
  const theirs = parsed.publicKey ?? '';
  if (/["\\]/.test(value) || badStrings) {
    id = 'dkim.quotes';
    summary = `the DKIM record at ${name} contains stray quote characters${strings.length > 1 ? ' (its chunks were quoted twice)' : ''}`;
  } else if (parsed.problems.length) {
    id = 'dkim.syntax';
    summary = `the DKIM record at ${name} is malformed: ${parsed.problems.join('; ')}`;
  } else if (parsed.keyType !== keyType) {
    id = 'dkim.k-mismatch';
    summary = `the DKIM record at ${name} says k=${parsed.keyType} but the key is ${keyType}`;
  } else if (theirs === '') {
    id = 'dkim.revoked';
    summary = `the DKIM record at ${name} has an empty p= (a revoked key)`;
  } else if (theirs.length < key.publicKey.length && key.publicKey.startsWith(theirs)) {
    id = 'dkim.truncated';
    summary = `the DKIM key at ${name} is truncated (${theirs.length} of ${key.publicKey.length} characters)`;
  } else if (theirs.length < key.publicKey.length && key.publicKey.startsWith(theirs.slice(0, 40))) {
    id = 'dkim.truncated';
    summary = `the DKIM key at ${name} is damaged: it starts like this server's key but is ${theirs.length} of ${key.publicKey.length} characters`;
  }
  add({
    id,
    severity: 'error',
    summary,
    why:
      id === 'dkim.key-mismatch'
        ? "signatures made with this server's key do not verify against the published one (an old key, or another server's)"
        : "the published key cannot verify this server's signatures: DKIM fails for all its mail",
    observed:
      value.length > 120
        ? `${value.slice(0, 100)}… (${value.length} characters in ${strings.length} string(s))`
        : value,
    expected: expectedValue,
    fix,
  });
}
