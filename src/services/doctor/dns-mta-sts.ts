/**
 * A domain's TLS policy records: MTA-STS (RFC 8461 §3: the _mta-sts record, the policy served at
 * mta-sts.D listing our MX hosts, the id matching the policy served) and TLS-RPT (RFC 8460 §3).
 */
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { query } from './findings.js';

/** Returns the _mta-sts records published (v=STSv1), valid or not. */
export async function checkMtaSts(
  i: DomainDnsInputs,
  add: AddFinding,
  ourMxHosts: readonly string[],
): Promise<string[]> {
  const { domain, resolve } = i;
  const stsName = `_mta-sts.${domain}`;
  const sts = await query<string[]>(resolve, stsName, 'TXT');
  const stsRecords = sts.records.map((p) => p.join('')).filter((t) => /^v=STSv1/i.test(t));
  const stsFix = zoneLines(i.expected, (r) => r.name === `${stsName}.`);
  if (stsRecords.length === 0 && !sts.error) {
    add({
      id: 'mta-sts.missing',
      severity: 'warning',
      summary: `${domain} publishes no MTA-STS record`,
      why: 'without MTA-STS, mail to you can be downgraded to plain text by anyone on the path',
      observed: `no TXT at ${stsName}`,
      expected: `v=STSv1; id=${i.mtaStsId}`,
      fix: stsFix,
    });
  } else if (sts.error) {
    add({
      id: 'dns.lookup-failed',
      severity: 'error',
      summary: `${stsName} could not be looked up (${sts.error})`,
      why: 'senders treat a failed MTA-STS lookup as no policy',
      observed: sts.error,
      expected: 'an answer',
      fix: `check the name servers of ${domain}`,
    });
  } else if (stsRecords.length > 1 || !/^v=STSv1;\s*id=[A-Za-z0-9]{1,32}\s*;?\s*$/.test(stsRecords[0] ?? '')) {
    add({
      id: 'mta-sts.syntax',
      severity: 'error',
      summary: `the MTA-STS record of ${domain} is invalid`,
      why: 'RFC 8461 §3.1: senders ignore the policy when the record is malformed or there is more than one',
      observed: stsRecords.join(' | '),
      expected: `v=STSv1; id=${i.mtaStsId}`,
      fix: stsFix,
    });
  } else {
    await checkMtaStsPolicy(i, add, ourMxHosts, stsRecords[0]!, stsFix);
  }
  return stsRecords;
}

/** The policy this server serves for the domain: fetchable, listing our MX hosts, under the published id. */
async function checkMtaStsPolicy(
  i: DomainDnsInputs,
  add: AddFinding,
  ourMxHosts: readonly string[],
  stsRecord: string,
  stsFix: string,
): Promise<void> {
  const { domain } = i;
  const policy = await i.fetchPolicy(domain);
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  if ('error' in policy || policy.status !== 200) {
    add({
      id: 'mta-sts.policy.unreachable',
      severity: 'error',
      summary: `the MTA-STS policy at ${url} cannot be fetched from this server`,
      why: 'senders that saw the record and cannot fetch the policy defer or give up on TLS checks',
      observed: 'error' in policy ? policy.error : `HTTP ${policy.status}`,
      expected: 'HTTP 200 with the policy',
      fix: `serve HTTPS on 443 ([listen] https) with a certificate for mta-sts.${domain} (postern cert issue ${domain})`,
    });
  } else {
    const parsed = policyOrNone(policy.body);
    const patterns = parsed?.mx ?? [];
    const mode = parsed?.mode;
    const uncovered = ourMxHosts.filter((h) => !parsed || !validateMx(h, parsed).valid);
    if (uncovered.length && mode !== 'none') {
      add({
        id: 'mta-sts.policy.mx',
        severity: 'error',
        summary: `the MTA-STS policy of ${domain} does not list the MX ${uncovered.join(', ')}`,
        why: 'senders enforcing the policy refuse to deliver to an MX it does not list',
        observed: patterns.map((p) => `mx: ${p}`).join(', '),
        expected: uncovered.map((h) => `mx: ${h}`).join(', '),
        fix: `MX ${domain} to ${i.hostname} (the policy lists the hostname)`,
      });
    }
    const id = /id=([A-Za-z0-9]+)/.exec(stsRecord)![1];
    if (id !== i.mtaStsId) {
      add({
        id: 'mta-sts.id.stale',
        severity: 'warning',
        summary: `the _mta-sts id of ${domain} is not the id of the policy now served`,
        why: 'senders refetch the policy only when the id changes: they keep a cached older policy until max_age runs out',
        observed: `id=${id}`,
        expected: `id=${i.mtaStsId}`,
        fix: stsFix,
      });
    }
  }
}

/** The _smtp._tls record, through which senders report TLS failures to the domain. */
export async function checkTlsRpt(i: DomainDnsInputs, add: AddFinding): Promise<void> {
  const { domain, resolve } = i;
  const rptName = `_smtp._tls.${domain}`;
  const rpt = await query<string[]>(resolve, rptName, 'TXT');
  const rpts = rpt.records.map((p) => p.join('')).filter((t) => /tlsrpt/i.test(t));
  const rptFix = zoneLines(i.expected, (r) => r.name === `${rptName}.`);
  if (rpts.length === 0 && !rpt.error) {
    add({
      id: 'tls-rpt.missing',
      severity: 'warning',
      summary: `${domain} publishes no TLS-RPT record`,
      why: 'senders cannot tell you when TLS to your server fails (an expired certificate, a wrong MX name)',
      observed: `no TXT at ${rptName}`,
      expected: 'v=TLSRPTv1; rua=mailto:…',
      fix: rptFix,
    });
  } else if (rpt.error) {
    // reported once per domain is enough: the MTA-STS lookup above failed the same way
  } else if (
    rpts.length > 1 ||
    !/^v=TLSRPTv1;\s*rua=(?:mailto:[^@\s,;]+@[^\s,;]+|https:\/\/[^\s,;]+)(?:,\s*(?:mailto:[^@\s,;]+@[^\s,;]+|https:\/\/[^\s,;]+))*\s*;?\s*$/i.test(
      rpts[0]!,
    )
  ) {
    add({
      id: 'tls-rpt.syntax',
      severity: 'error',
      summary: `the TLS-RPT record of ${domain} is invalid`,
      why: 'RFC 8460 §3: senders ignore a malformed record',
      observed: rpts.join(' | '),
      expected: 'v=TLSRPTv1; rua=mailto:…',
      fix: rptFix,
    });
  }
}

/** mailauth's parse of a policy (RFC 8461 §3.2), or undefined for text that is not one: then no MX is listed. */
function policyOrNone(body: string): ReturnType<typeof parsePolicy> | undefined {
  try {
    return parsePolicy(body);
  } catch {
    return undefined;
  }
}
