/**
 * How clients find a domain's server: the names served over HTTPS (the MTA-STS policy host,
 * autoconfig) pointing here, and the SRV records of RFC 6186 §3 and RFC 8314 §5.1.
 */
import { addressRecords, zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { addresses, query } from './findings.js';

/** `isStsPublished`: the domain has an _mta-sts record, so a wrong mta-sts.D breaks delivery (an error). */
export async function checkWebNames(i: DomainDnsInputs, add: AddFinding, isStsPublished: boolean): Promise<void> {
  const { resolve } = i;
  for (const name of i.webNames) {
    const a = await addresses(resolve, name);
    const all = [...a.v4, ...a.v6];
    if (a.error) continue;
    if (all.length === 0 || (i.publicAddresses.length && !all.some((ip) => i.publicAddresses.includes(ip)))) {
      add({
        id: all.length === 0 ? 'web.address.missing' : 'web.address.mismatch',
        severity: name.startsWith('mta-sts.') && isStsPublished ? 'error' : 'warning',
        summary: all.length === 0 ? `${name} has no address` : `${name} does not point to this server`,
        why: name.startsWith('mta-sts.')
          ? 'senders fetch the MTA-STS policy from this name'
          : 'mail clients fetch their settings from this name (autoconfiguration), and ACME validates it for the certificate',
        observed: all.join(', ') || 'no A/AAAA',
        expected: i.publicAddresses.join(', ') || "this server's address",
        fix: addressRecords(name, i.publicAddresses),
      });
    }
  }
}

/** Each SRV service names the hostname and its port. */
export async function checkSrv(i: DomainDnsInputs, add: AddFinding): Promise<void> {
  const { domain, resolve } = i;
  const missing: (typeof i.srv)[number][] = [];
  for (const s of i.srv) {
    const name = `${s.service}.${domain}`;
    const r = await query<{ name: string; port: number }>(resolve, name, 'SRV');
    if (r.error) continue;
    if (r.records.length === 0) {
      missing.push(s);
      continue;
    }
    const good = r.records.some(
      (x) => x.name.toLowerCase().replace(/\.$/, '') === i.hostname.toLowerCase() && x.port === s.port,
    );
    if (!good) {
      add({
        id: 'srv.mismatch',
        severity: 'error',
        summary: `${name} points to ${r.records.map((x) => `${x.name}:${x.port}`).join(', ')}, not ${i.hostname}:${s.port}`,
        why: 'mail clients that autodiscover with SRV connect to the wrong host or port',
        observed: r.records.map((x) => `${x.name}:${x.port}`).join(', '),
        expected: `${i.hostname}:${s.port}`,
        fix: zoneLines(i.expected, (rec) => rec.name === `${name}.`),
      });
    }
  }
  if (missing.length) {
    add({
      id: 'srv.missing',
      severity: 'warning',
      summary: `${domain} has no SRV record for ${missing.map((s) => s.service).join(', ')}`,
      why: 'mail clients (RFC 6186) use these to find the server; without them users type the settings by hand',
      observed: 'no SRV',
      expected: missing.map((s) => `${s.service} → ${i.hostname}:${s.port}`).join(', '),
      fix: zoneLines(
        i.expected,
        (rec) => rec.type === 'SRV' && missing.some((s) => rec.name === `${s.service}.${domain}.`),
      ),
    });
  }
}
