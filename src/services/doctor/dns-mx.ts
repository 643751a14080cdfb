/**
 * A domain's MX (RFC 5321 §5.1; RFC 2181 §10.3: never a CNAME; RFC 7505 null MX): it exists, names hosts
 * that have addresses, at least one of them this server, and each of ours is on a certificate.
 */
import { isIP } from 'node:net';
import { addressRecords, zoneLines, type AddFinding } from './dns-common.js';
import type { DomainDnsInputs } from './dns.js';
import { addresses, nameCovered, query } from './findings.js';

/** Returns the MX hosts that are this server (by name or address). */
export async function checkMx(i: DomainDnsInputs, add: AddFinding): Promise<string[]> {
  const { domain, resolve } = i;
  const mxFix = zoneLines(i.expected, (r) => r.type === 'MX');
  const ourMxHosts: string[] = [];
  const mx = await query<{ exchange: string; priority: number }>(resolve, domain, 'MX');
  if (mx.error) {
    add({
      id: 'dns.lookup-failed',
      severity: 'error',
      summary: `the MX of ${domain} could not be looked up (${mx.error})`,
      why: 'senders defer mail while DNS fails',
      observed: mx.error,
      expected: 'an answer',
      fix: `check the name servers of ${domain} (dig ${domain} MX)`,
    });
  } else if (mx.records.length === 0) {
    add({
      id: 'mx.missing',
      severity: 'error',
      summary: `${domain} has no MX record`,
      why: "senders fall back to the domain's A record or give up: mail does not reach this server",
      observed: mx.nxdomain ? 'the domain does not exist in DNS' : 'no MX',
      expected: `MX 10 ${i.hostname}`,
      fix: mxFix,
    });
  } else if (mx.records.some((r) => r.exchange === '' || r.exchange === '.')) {
    add({
      id: 'mx.null',
      severity: 'error',
      summary: `${domain} publishes a null MX ("MX 0 .")`,
      why: 'a null MX (RFC 7505) says the domain accepts no mail: senders bounce at once',
      observed: 'MX 0 .',
      expected: `MX 10 ${i.hostname}`,
      fix: mxFix,
    });
  } else {
    for (const r of mx.records.sort((a, b) => a.priority - b.priority)) {
      const host = await checkMxHost(i, add, r, mxFix);
      if (host !== undefined) ourMxHosts.push(host);
    }
    if (ourMxHosts.length === 0) {
      add({
        id: 'mx.not-us',
        severity: 'error',
        summary: `no MX of ${domain} points to this server`,
        why: 'mail for the domain is delivered elsewhere',
        observed: mx.records.map((r) => `MX ${r.priority} ${r.exchange}`).join(', '),
        expected: `MX 10 ${i.hostname}.`,
        fix: mxFix,
      });
    }
    checkMxCertificates(i, add, ourMxHosts);
  }
  return ourMxHosts;
}

/** One MX host: a name, not an IP nor a CNAME, with an address. Returns the host when it is this server. */
async function checkMxHost(
  i: DomainDnsInputs,
  add: AddFinding,
  r: { exchange: string; priority: number },
  mxFix: string,
): Promise<string | undefined> {
  const { domain, resolve } = i;
  const host = r.exchange.toLowerCase().replace(/\.$/, '');
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    add({
      id: 'mx.ip',
      severity: 'error',
      summary: `the MX of ${domain} is an IP address (${host})`,
      why: 'an MX names a host; senders look up "' + host + '" as a name and fail',
      observed: `MX ${r.priority} ${host}`,
      expected: `MX 10 ${i.hostname}.`,
      fix: mxFix,
    });
    return undefined;
  }
  const cname = await query<string>(resolve, host, 'CNAME');
  if (cname.records.length) {
    add({
      id: 'mx.cname',
      severity: 'error',
      summary: `the MX host ${host} is a CNAME (to ${cname.records[0]})`,
      why: 'RFC 2181 §10.3 forbids an MX pointing to an alias; some senders refuse it, and the certificate name no longer matches the MX',
      observed: `${host} CNAME ${cname.records[0]}`,
      expected: `${host} with its own A record`,
      fix: `${mxFix}\n; or replace the CNAME with an A record:\n${host}.  IN  A  ${i.publicAddresses[0] ?? '<public IP>'}`,
    });
  }
  const a = await addresses(resolve, host);
  const all = [...a.v4, ...a.v6];
  if (all.length === 0 && !a.error) {
    add({
      id: 'mx.no-address',
      severity: 'error',
      summary: `the MX host ${host} has no A or AAAA record`,
      why: 'senders cannot connect to an MX without an address',
      observed: `${host}: no address`,
      expected: i.publicAddresses.join(', ') || 'the public address',
      fix: addressRecords(host, i.publicAddresses),
    });
  }
  return host === i.hostname.toLowerCase() || all.some((ip) => i.publicAddresses.includes(ip)) ? host : undefined;
}

/** Senders that verify TLS (MTA-STS, DANE) need each of our MX hosts on a certificate. */
function checkMxCertificates(i: DomainDnsInputs, add: AddFinding, ourMxHosts: readonly string[]): void {
  const { domain } = i;
  for (const host of ourMxHosts) {
    if (!i.certificateNames.some((names) => nameCovered(names, host))) {
      add({
        id: 'mx.not-on-certificate',
        severity: 'error',
        summary: `the MX host ${host} is not a name on any certificate`,
        why: 'senders that verify TLS (MTA-STS, DANE) refuse to deliver when the certificate does not name the MX host',
        observed: `certificates name: ${i.certificateNames.map((n) => n.join(' ')).join('; ') || 'nothing'}`,
        expected: host,
        fix: `postern cert issue ${domain}   # with [acme] configured; or add ${host} to a certificate`,
      });
    }
  }
}
