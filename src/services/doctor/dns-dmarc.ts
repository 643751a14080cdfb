/**
 * A domain's DMARC record (RFC 7489 §6.1, §6.3): one valid record; a policy this server's own mail can
 * pass (with DKIM or SPF); advice on p=none; and report addresses in other domains that agreed to
 * receive the reports (§7.1).
 */
import { isDmarcRecord, parseDmarc, reportAddresses } from '../../mail/dmarc/record.js';
import { zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { query } from './findings.js';
import { quoteTxt } from './records.js';

/** `dkimOk`: an active DKIM key is published; `spfPermitted`: SPF passes for this server's addresses. */
export async function checkDmarc(
  i: DomainDnsInputs,
  add: AddFinding,
  dkimOk: boolean,
  spfPermitted: boolean,
): Promise<void> {
  const { domain, resolve } = i;
  const dmarcName = `_dmarc.${domain}`;
  const dmarcFix = zoneLines(i.expected, (r) => r.name === `${dmarcName}.`);
  const dm = await query<string[]>(resolve, dmarcName, 'TXT');
  const dmarcs = dm.records.map((p) => p.join('')).filter((t) => /dmarc/i.test(t));
  if (dmarcs.length === 0 && !dm.error) {
    add({
      id: 'dmarc.missing',
      severity: 'warning',
      summary: `${domain} has no DMARC record`,
      why: 'Gmail and Yahoo require DMARC from bulk senders, and without it nobody reports forged mail to you',
      observed: `no TXT at ${dmarcName}`,
      expected: 'v=DMARC1; p=none; rua=mailto:…',
      fix: dmarcFix,
    });
  } else if (dmarcs.length > 1) {
    add({
      id: 'dmarc.multiple',
      severity: 'error',
      summary: `${dmarcs.length} DMARC records at ${dmarcName}`,
      why: 'RFC 7489 §6.6.3: with more than one record no policy applies',
      observed: dmarcs.join(' | '),
      expected: 'one record',
      fix: dmarcFix,
    });
  } else if (dmarcs.length === 1) {
    const parsed = parseDmarc(dmarcs[0]!);
    if (parsed.problems.length || !isDmarcRecord(dmarcs[0]!)) {
      add({
        id: 'dmarc.syntax',
        severity: 'error',
        summary: `the DMARC record of ${domain} is invalid: ${parsed.problems.join('; ')}`,
        why: 'receivers ignore an invalid DMARC record: no policy applies and no reports are sent',
        observed: dmarcs[0]!,
        expected: 'v=DMARC1; p=none; rua=mailto:…',
        fix: dmarcFix,
      });
    } else {
      const p = parsed.tags.get('p')!.toLowerCase();
      const spfAligned = spfPermitted;
      if (p !== 'none' && !dkimOk && !spfAligned) {
        add({
          id: 'dmarc.alignment',
          severity: 'error',
          summary: `${domain} asks receivers to ${p} failing mail, but this server's own mail cannot pass`,
          why: 'DMARC passes with an aligned DKIM signature or an aligned SPF pass; neither the DKIM record nor SPF lets this server through',
          observed: `p=${p}, DKIM ${dkimOk ? 'ok' : 'failing'}, SPF ${spfAligned ? 'passes' : 'does not pass'} for this server`,
          expected: 'a published DKIM key or SPF permitting this server',
          fix: 'fix the DKIM and SPF findings above first, or lower the policy to p=none while you do',
        });
      }
      if (p === 'none') {
        add({
          id: 'dmarc.policy.none',
          severity: 'info',
          summary: `${domain} has DMARC p=none: forged mail is reported, not refused`,
          why: 'p=none is the right start; once the reports show all your own mail passing, tighten it',
          observed: dmarcs[0]!,
          expected: 'p=quarantine, then p=reject',
          fix: `${dmarcName}.  IN  TXT  ${quoteTxt(dmarcs[0]!.replace(/p\s*=\s*none/i, 'p=quarantine'))}\n; a few weeks later: p=reject`,
        });
      }
      await checkReportAddresses(i, add, parsed);
    }
  }
}

/** RFC 7489 §7.1: a report address in another organisation's domain needs its authorization record. */
async function checkReportAddresses(
  i: DomainDnsInputs,
  add: AddFinding,
  parsed: ReturnType<typeof parseDmarc>,
): Promise<void> {
  const { domain, resolve } = i;
  for (const address of reportAddresses(parsed)) {
    const target = address.split('@')[1]!;
    if (orgDomain(target) === orgDomain(domain)) continue;
    const auth = await query<string[]>(resolve, `${domain}._report._dmarc.${target}`, 'TXT');
    if (!auth.records.some((parts) => /^v=DMARC1/i.test(parts.join('')))) {
      add({
        id: 'dmarc.report.unauthorized',
        severity: 'warning',
        summary: `DMARC reports of ${domain} go to ${address}, which has not agreed to receive them`,
        why: 'RFC 7489 §7.1: receivers send reports to another domain only if it publishes an authorization record; without it no reports arrive',
        observed: `no TXT at ${domain}._report._dmarc.${target}`,
        expected: 'v=DMARC1',
        fix: `${domain}._report._dmarc.${target}.  IN  TXT  "v=DMARC1"`,
      });
    }
  }
}

/** The last two labels: enough to tell a third party's report address from the domain's own. */
function orgDomain(name: string): string {
  return name.toLowerCase().split('.').slice(-2).join('.');
}
