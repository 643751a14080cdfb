/**
 * A domain's SPF record (RFC 7208): exactly one, well formed, ending in -all or ~all, within the
 * limits of 10 DNS lookups and two void lookups, and naming only includes that publish SPF. Whether
 * it lets this server's addresses through is evaluated in index.ts, as a receiver would.
 */
import type { DnsResolve } from '../../mail/dns/resolver.js';
import { isSpfRecord, looksLikeSpf, parseSpf, LOOKUP_TERMS } from '../../mail/spf/record.js';
import { zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { addresses, query } from './findings.js';
import { quoteTxt } from './records.js';

type SpfTerms = ReturnType<typeof parseSpf>['terms'];

export async function checkSpf(i: DomainDnsInputs, add: AddFinding): Promise<void> {
  const { domain, resolve } = i;
  const txt = await query<string[]>(resolve, domain, 'TXT');
  const texts = txt.records.map((parts) => parts.join(''));
  const spfs = texts.filter(isSpfRecord);
  const broken = texts.filter(looksLikeSpf);
  const spfFix = zoneLines(i.expected, (r) => r.type === 'TXT' && r.name === `${domain}.`);
  if (spfs.length === 0 && broken.length === 0 && !txt.error) {
    add({
      id: 'spf.missing',
      severity: 'error',
      summary: `${domain} has no SPF record`,
      why: 'receivers cannot tell your server may send for the domain; DMARC then depends on DKIM alone and much mail is junked',
      observed: 'no TXT "v=spf1 …"',
      expected: 'v=spf1 mx -all',
      fix: spfFix,
    });
  } else if (spfs.length > 1) {
    add({
      id: 'spf.multiple',
      severity: 'error',
      summary: `${domain} has ${spfs.length} SPF records`,
      why: 'RFC 7208 §4.5: more than one v=spf1 record is a permanent error, so SPF fails for all mail',
      observed: spfs.join(' | '),
      expected: 'one record',
      fix: `merge them into one record, e.g.\n${spfFix}`,
    });
  }
  for (const record of spfs.length === 1 ? spfs : spfs.length === 0 ? broken : []) await checkSpfRecord(i, add, record);
}

/** One record: its syntax (with a corrected record as the fix), its "all", and the lookups it causes. */
async function checkSpfRecord(i: DomainDnsInputs, add: AddFinding, record: string): Promise<void> {
  const { domain } = i;
  const parsed = parseSpf(record);
  if (parsed.problems.length) {
    let corrected = record;
    for (const p of parsed.problems)
      if (p.suggestion)
        corrected =
          p.token === record.trim().split(/\s+/)[0]
            ? corrected.replace(/^\s*\S+/, p.suggestion)
            : corrected.replace(p.token, p.suggestion);
    add({
      id: 'spf.syntax',
      severity: 'error',
      summary: `the SPF record of ${domain} has ${parsed.problems.length === 1 ? 'a syntax error' : `${parsed.problems.length} syntax errors`}: ${parsed.problems.map((p) => p.message).join('; ')}`,
      why: 'a record with a syntax error is a permanent error (or not an SPF record at all): SPF fails for all your mail',
      observed: record,
      expected: corrected,
      fix: `${domain}.  IN  TXT  ${quoteTxt(corrected)}`,
    });
    return;
  }
  checkSpfAll(domain, add, record, parsed.terms);
  await checkSpfLookups(i, add, parsed.terms);
}

/** The "all" at the end of the record: "+all" lets anyone send, "?all" or none says nothing. */
function checkSpfAll(domain: string, add: AddFinding, record: string, terms: SpfTerms): void {
  const all = terms.find((t) => t.name === 'all');
  if (all?.qualifier === '+') {
    add({
      id: 'spf.all.permissive',
      severity: 'error',
      summary: `the SPF record of ${domain} ends in "+all"`,
      why: '"+all" lets every server on the internet send as your domain',
      observed: record,
      expected: '-all (or ~all)',
      fix: `${domain}.  IN  TXT  ${quoteTxt(record.replace(/[+]?all\b/i, '-all'))}`,
    });
  } else if (all?.qualifier === '?') {
    add({
      id: 'spf.all.neutral',
      severity: 'warning',
      summary: `the SPF record of ${domain} ends in "?all"`,
      why: '"?all" says nothing about other senders: forged mail is not recognised',
      observed: record,
      expected: '-all (or ~all)',
      fix: `${domain}.  IN  TXT  ${quoteTxt(record.replace(/\?all\b/i, '-all'))}`,
    });
  } else if (!all && !terms.some((t) => t.name === 'redirect')) {
    add({
      id: 'spf.all.missing',
      severity: 'warning',
      summary: `the SPF record of ${domain} has no "all" at its end`,
      why: 'without "-all" any other server gets a neutral result instead of a failure',
      observed: record,
      expected: `${record} -all`,
      fix: `${domain}.  IN  TXT  ${quoteTxt(`${record} -all`)}`,
    });
  }
}

/** RFC 7208 §4.6.4: at most 10 lookups, at most two void ones; §5.2: each include publishes SPF. */
async function checkSpfLookups(i: DomainDnsInputs, add: AddFinding, terms: SpfTerms): Promise<void> {
  const { domain, resolve } = i;
  const walk = { lookups: 0, voids: [] as string[], missingIncludes: [] as string[] };
  await walkSpf(resolve, domain, terms, walk, 0);
  if (walk.lookups > 10) {
    add({
      id: 'spf.lookups',
      severity: 'error',
      summary: `the SPF record of ${domain} needs ${walk.lookups} DNS lookups (the limit is 10)`,
      why: 'RFC 7208 §4.6.4: more than 10 include/a/mx/ptr/exists/redirect lookups is a permanent error: SPF fails for all your mail',
      observed: `${walk.lookups} lookups`,
      expected: 'at most 10',
      fix: 'replace include: of large providers you no longer use, and a/mx of your own hosts, with ip4:/ip6: mechanisms',
    });
  }
  if (walk.missingIncludes.length) {
    add({
      id: 'spf.include.missing',
      severity: 'error',
      summary: `SPF include of ${walk.missingIncludes.join(', ')} finds no SPF record`,
      why: 'RFC 7208 §5.2: an include: of a name without SPF is a permanent error',
      observed: walk.missingIncludes.map((d) => `include:${d}`).join(' '),
      expected: 'include: of names that publish v=spf1',
      fix: `remove or correct ${walk.missingIncludes.map((d) => `include:${d}`).join(' ')} in ${domain}'s SPF record`,
    });
  }
  if (walk.voids.length) {
    add({
      id: 'spf.void-lookups',
      severity: walk.voids.length > 2 ? 'error' : 'warning',
      summary: `the SPF record of ${domain} looks up ${walk.voids.length} name(s) that do not exist: ${walk.voids.join(', ')}`,
      why: 'RFC 7208 §4.6.4: more than two lookups with empty answers is a permanent error; each one is a leftover that slows checks',
      observed: walk.voids.join(', '),
      expected: 'mechanisms naming hosts that exist',
      fix: `remove the mechanisms for ${walk.voids.join(', ')} from the record`,
    });
  }
}

async function walkSpf(
  resolve: DnsResolve,
  domain: string,
  terms: SpfTerms,
  w: { lookups: number; voids: string[]; missingIncludes: string[] },
  depth: number,
): Promise<void> {
  if (depth > 10 || w.lookups > 20) return;
  for (const t of terms) {
    if (!LOOKUP_TERMS.has(t.name) || t.value.includes('%')) continue;
    w.lookups++;
    const target = (t.value || domain).replace(/\.$/, '');
    if (t.name === 'include' || t.name === 'redirect') {
      const txt = await query<string[]>(resolve, target, 'TXT');
      const spf = txt.records.map((p) => p.join('')).filter(isSpfRecord);
      if (spf.length !== 1) {
        if (!txt.error) w.missingIncludes.push(target);
        if (txt.nxdomain || txt.records.length === 0) w.voids.push(target);
        continue;
      }
      await walkSpf(resolve, target, parseSpf(spf[0]!).terms, w, depth + 1);
    } else if (t.name === 'mx') {
      const mx = await query<{ exchange: string }>(resolve, target, 'MX');
      if (mx.records.length === 0 && !mx.error) w.voids.push(target);
    } else if (t.name === 'a' || t.name === 'exists') {
      const a = await addresses(resolve, target);
      if (a.v4.length + a.v6.length === 0 && !a.error) w.voids.push(target);
    }
  }
}
