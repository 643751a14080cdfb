/**
 * The DNS records a hosted domain needs, as `postern dns` prints them: A/AAAA for the host name, MX
 * (to a name with A records, never a CNAME), SPF, DKIM per selector (255-byte strings, RFC 7208 §3.3
 * and RFC 6376 §3.6.2.2), DMARC, MTA-STS, TLS-RPT, RFC 6186 SRV records, and the PTR to ask for.
 */
import { isIPv4 } from 'node:net';
import type { DkimKeyRecord } from '../../store/index.js';
import { dkimTxtValue as txtValue } from '../../mail/dkim/record.js';

export interface DnsRecord {
  name: string;
  type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'SRV' | 'PTR';
  value: string;
  /** Why it is there, or what to do with it. */
  note: string;
}

export interface RecordInputs {
  domain: string;
  hostname: string;
  publicAddresses: readonly string[];
  dkimKeys: readonly DkimKeyRecord[];
  mtaStsId: string;
  /** Names served over HTTPS for the domain: mta-sts.D, autoconfig.D … */
  webNames: readonly string[];
  /** RFC 6186 services with the port each is offered on (listeners configured). */
  srv: ReadonlyArray<{ service: string; port: number }>;
}

/** RFC 6186 §3 services and the listener each names; RFC 8314 §5.1 prefers implicit TLS (priority 0 first). */
export const SRV_SERVICES = [
  { service: '_submissions._tcp', listener: 'submissions', priority: 0 },
  { service: '_submission._tcp', listener: 'submission', priority: 10 },
  { service: '_imaps._tcp', listener: 'imaps', priority: 0 },
  { service: '_imap._tcp', listener: 'imap', priority: 10 },
  { service: '_pop3s._tcp', listener: 'pop3s', priority: 0 },
] as const;

/** Stands for the server's address in every record that needs it when [dns] public_addresses is empty. */
export const ADDRESS_PLACEHOLDER = '<public IPv4 of this server>';

export function recordsFor(i: RecordInputs): DnsRecord[] {
  const out: DnsRecord[] = [];
  const host = `${i.hostname}.`;
  // Without [dns] public_addresses every record that needs the address is still printed, with a placeholder.
  const addresses = i.publicAddresses.length ? i.publicAddresses : [ADDRESS_PLACEHOLDER];
  const type = (ip: string) => (ip === ADDRESS_PLACEHOLDER || isIPv4(ip) ? 'A' : 'AAAA');
  for (const ip of addresses)
    out.push({ name: host, type: type(ip), value: ip, note: 'the MX host; clients connect to this name' });
  for (const name of i.webNames) {
    for (const ip of addresses)
      out.push({
        name: `${name}.`,
        type: type(ip),
        value: ip,
        note: name.startsWith('mta-sts.')
          ? 'serves the MTA-STS policy over HTTPS'
          : 'HTTPS name of this server for the domain (autoconfiguration, certificates)',
      });
  }
  out.push({
    name: `${i.domain}.`,
    type: 'MX',
    value: `10 ${host}`,
    note: 'an MX must name a host with A/AAAA records, never a CNAME or an IP',
  });
  out.push({
    name: `${i.domain}.`,
    type: 'TXT',
    value: quoteTxt('v=spf1 mx -all'),
    note: 'SPF: only the MX hosts send for this domain',
  });
  for (const key of i.dkimKeys) {
    if (key.status === 'retired') {
      out.push({
        name: `${key.selector}._domainkey.${i.domain}.`,
        type: 'TXT',
        value: quoteTxt(txtValue(key)),
        note: 'retired DKIM key: remove this record once mail signed with it has been delivered (a week)',
      });
      continue;
    }
    out.push({
      name: `${key.selector}._domainkey.${i.domain}.`,
      type: 'TXT',
      value: quoteTxt(txtValue(key)),
      note:
        key.status === 'pending'
          ? 'new DKIM key: publish it; Postern signs with it once it is seen in DNS'
          : `DKIM ${key.algorithm} key in use`,
    });
  }
  out.push({
    name: `_dmarc.${i.domain}.`,
    type: 'TXT',
    value: quoteTxt(`v=DMARC1; p=none; rua=mailto:postmaster@${i.domain}`),
    note: 'start with p=none and read the reports; then p=quarantine, then p=reject once all your mail passes',
  });
  out.push({
    name: `_mta-sts.${i.domain}.`,
    type: 'TXT',
    value: quoteTxt(`v=STSv1; id=${i.mtaStsId}`),
    note: `MTA-STS (RFC 8461): the policy is served at https://mta-sts.${i.domain}/.well-known/mta-sts.txt; change id when it changes`,
  });
  out.push({
    name: `_smtp._tls.${i.domain}.`,
    type: 'TXT',
    value: quoteTxt(`v=TLSRPTv1; rua=mailto:postmaster@${i.domain}`),
    note: 'TLS-RPT (RFC 8460): reports of TLS failures delivering to you',
  });
  for (const { service, port } of i.srv) {
    const priority = SRV_SERVICES.find((s) => s.service === service)?.priority ?? 0;
    out.push({
      name: `${service}.${i.domain}.`,
      type: 'SRV',
      value: `${priority} 1 ${port} ${host}`,
      note: 'mail client autodiscovery (RFC 6186)',
    });
  }
  for (const ip of addresses) {
    const name = ip === ADDRESS_PLACEHOLDER ? '<reversed public IPv4>.in-addr.arpa.' : reverseName(ip);
    out.push({
      name,
      type: 'PTR',
      value: host,
      note: 'ask your hosting provider to set this reverse record: receivers check it',
    });
  }
  return out;
}

/** A TXT value as zone-file strings of at most 255 bytes each (RFC 1035 §3.3.14). */
export function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/["\\]/g, '\\$&')}"`);
  return parts.length > 1 ? `( ${parts.join(' ')} )` : parts[0]!;
}

export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa.`;
  const full = expandIPv6(ip);
  return `${full.replace(/:/g, '').split('').reverse().join('.')}.ip6.arpa.`;
}

function expandIPv6(ip: string): string {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  return [...h, ...Array(tail === undefined ? 0 : missing).fill('0'), ...t].map((g) => g.padStart(4, '0')).join(':');
}

/** BIND zone-file lines, each with its note as a comment; one comment first when addresses are placeholders. */
export function renderZone(records: DnsRecord[]): string {
  const width = Math.max(...records.map((r) => r.name.length));
  const head = records.some((r) => r.value === ADDRESS_PLACEHOLDER)
    ? `; ${ADDRESS_PLACEHOLDER} below stands for this server's public IPv4 address (and its reverse in the PTR name):\n; set [dns] public_addresses in postern.toml (IPv6 too) and run this again to print the real records.\n`
    : '';
  return (
    head +
    records.map((r) => `; ${r.note}\n${r.name.padEnd(width)}  3600  IN  ${r.type.padEnd(4)}  ${r.value}`).join('\n') +
    '\n'
  );
}
