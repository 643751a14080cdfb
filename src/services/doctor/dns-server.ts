/**
 * The server's own names: the host name itself, its A/AAAA records against the public addresses, the
 * PTR of each address with forward confirmation (FCrDNS), the EHLO name, and DNS blocklist listings.
 */
import { isIP, isIPv4 } from 'node:net';
import { addressRecords, type AddFinding } from './dns-common.js';
import type { ServerDnsInputs } from './dns.js';
import { addresses, isPrivateAddress, query, type Findings, type Finding } from './findings.js';
import { reverseName } from './records.js';

const INTERNAL_TLDS = new Set([
  'local',
  'lan',
  'internal',
  'localdomain',
  'home',
  'corp',
  'localhost',
  'intranet',
  'private',
  'test',
  'invalid',
  'example',
]);
const GENERIC =
  /(?:^|[.-])(?:ip|host|static|dynamic|dyn|dhcp|pool|dsl|adsl|cable|ppp|client|customer|cust|broadband|vps)[-.]?\d|\d{1,3}[-.]\d{1,3}[-.]\d{1,3}[-.]\d{1,3}|\.compute(?:-1)?\.amazonaws\.com$|\.compute\.internal$|\.googleusercontent\.com$|\.vultrusercontent\.com$|\.contaboserver\.net$|\.your-server\.de$|\.linodeusercontent\.com$|\.ip-addr\.|\.static\.\w+\.\w+$/i;

/** The host name itself, before any lookup: an internal name or an IP, or a provider's generic name. */
export function checkHostName(hostname: string, findings: Findings): void {
  const add = (f: Omit<Finding, 'scope'>) => findings.add({ ...f, scope: hostname });
  const tld = hostname.split('.').pop()!.toLowerCase();
  if (isIP(hostname) !== 0 || !hostname.includes('.') || INTERNAL_TLDS.has(tld)) {
    add({
      id: 'host.name.internal',
      severity: 'error',
      summary: `hostname "${hostname}" is not a public DNS name`,
      why: 'clients and other servers check the certificate against the name they connect to: an internal name or an IP (like "dovecot" or "172.18.0.1") fails that check, and mail to it cannot be routed',
      observed: hostname,
      expected: 'a public name such as mail.example.com',
      fix: 'hostname = "mail.example.com"   # in postern.toml; then tell clients to use that name',
    });
  } else if (GENERIC.test(hostname)) {
    add({
      id: 'host.name.generic',
      severity: 'warning',
      summary: `hostname "${hostname}" looks like a provider's generic name`,
      why: 'large receivers score mail from generic, address-like host names as coming from a dynamic or compromised host',
      observed: hostname,
      expected: 'a name in your own domain, such as mail.example.com',
      fix: 'hostname = "mail.example.com"   # and set the PTR to it',
    });
  }
}

/** The public addresses as configured, and the host name's A/AAAA records against them. */
export async function checkServerAddresses(i: ServerDnsInputs, add: AddFinding): Promise<void> {
  const { hostname, resolve } = i;
  const own = await addresses(resolve, hostname);
  const publicIps = [...i.publicAddresses];
  if (publicIps.length === 0) {
    add({
      id: 'host.public-address.missing',
      severity: 'warning',
      summary: 'the public address of this server is not known',
      why: 'without it the doctor cannot check that A, MX, SPF and PTR records point here',
      observed: 'no [dns] public_addresses and no public interface address',
      expected: "the server's public IPv4 (and IPv6) address",
      fix: '[dns]\npublic_addresses = ["203.0.113.10"]',
    });
  }
  for (const ip of publicIps.filter(isPrivateAddress)) {
    add({
      id: 'host.public-address.private',
      severity: 'warning',
      summary: `public address ${ip} is a private or loopback address`,
      why: 'other servers on the internet cannot reach a private address; records pointing to it break delivery to you',
      observed: ip,
      expected: "the address the internet reaches this server at (behind NAT: the router's public address)",
      fix: '[dns]\npublic_addresses = ["<public IP>"]',
    });
  }
  if (own.error) {
    add({
      id: 'dns.lookup-failed',
      severity: 'error',
      summary: `the addresses of ${hostname} could not be looked up (${own.error})`,
      why: 'a DNS failure makes every other server defer mail to you',
      observed: own.error,
      expected: 'an answer',
      fix: `check the zone of ${hostname} and its name servers (dig ${hostname} A)`,
    });
  } else if (own.v4.length + own.v6.length === 0) {
    add({
      id: 'host.address.missing',
      severity: 'error',
      summary: `${hostname} has no A or AAAA record`,
      why: 'the MX and every client name this host: without an address nobody can connect',
      observed: 'no A/AAAA',
      expected: publicIps.join(', ') || 'the public address',
      fix: addressRecords(hostname, publicIps),
    });
  } else {
    for (const ip of publicIps) {
      const have = isIPv4(ip) ? own.v4 : own.v6;
      if (!have.includes(ip)) {
        add({
          id: 'host.address.mismatch',
          severity: 'error',
          summary: `${hostname} does not resolve to this server's address ${ip}`,
          why: 'mail and clients go to the address DNS gives, which is not this server',
          observed: have.join(', ') || `no ${isIPv4(ip) ? 'A' : 'AAAA'} record`,
          expected: ip,
          fix: addressRecords(hostname, [ip]),
        });
      }
    }
  }
}

/** Each public address has a PTR naming the hostname, and that name resolves back to the address. */
export async function checkReverseDns(i: ServerDnsInputs, add: AddFinding): Promise<void> {
  const { hostname, resolve } = i;
  for (const ip of i.publicAddresses) {
    const rev = reverseName(ip);
    const ptr = await query<string>(resolve, rev, 'PTR');
    if (ptr.error) {
      add({
        id: 'dns.lookup-failed',
        severity: 'error',
        summary: `the PTR of ${ip} could not be looked up (${ptr.error})`,
        why: 'receivers that cannot resolve the reverse name treat the server as suspicious or defer its mail',
        observed: ptr.error,
        expected: hostname,
        fix: `ask your hosting provider to check the reverse zone of ${ip}`,
      });
      continue;
    }
    const names = ptr.records.map((n) => n.toLowerCase().replace(/\.$/, ''));
    const askProvider = `ask your hosting provider to set the reverse DNS of ${ip} to ${hostname}:\n${rev}  IN  PTR  ${hostname}.`;
    if (names.length === 0) {
      add({
        id: 'ptr.missing',
        severity: 'error',
        summary: `${ip} has no PTR (reverse DNS) record`,
        why: 'Gmail, Outlook and most receivers refuse or junk mail from an address without reverse DNS',
        observed: 'no PTR',
        expected: hostname,
        fix: askProvider,
      });
      continue;
    }
    if (!names.includes(hostname.toLowerCase())) {
      add({
        id: 'ptr.mismatch',
        severity: 'error',
        summary: `the PTR of ${ip} names ${names.join(', ')}, not ${hostname}`,
        why: 'receivers compare the reverse name with the HELO name and the forward lookup; a mismatch marks the server as suspicious',
        observed: names.join(', '),
        expected: hostname,
        fix: askProvider,
      });
    }
    const confirmed = await Promise.all(
      names.map(async (n) => {
        const a = await addresses(resolve, n);
        return [...a.v4, ...a.v6].includes(ip);
      }),
    );
    if (!confirmed.some(Boolean)) {
      add({
        id: 'ptr.fcrdns',
        severity: 'error',
        summary: `the PTR name of ${ip} (${names[0]}) does not resolve back to ${ip}`,
        why: 'forward-confirmed reverse DNS (FCrDNS) fails, which receivers treat like a missing PTR',
        observed: `${names[0]} → ${(await addresses(resolve, names[0]!)).v4.join(', ') || 'no address'}`,
        expected: ip,
        fix: addressRecords(names[0]!, [ip]),
      });
    }
  }
}

/** The outgoing EHLO name is the hostname, which the PTR names. */
export function checkHeloName(i: ServerDnsInputs, add: AddFinding): void {
  const { hostname } = i;
  if (i.heloName.toLowerCase() !== hostname.toLowerCase()) {
    add({
      id: 'helo.mismatch',
      severity: 'warning',
      summary: `outgoing EHLO name ${i.heloName} is not the hostname ${hostname}`,
      why: 'receivers compare the EHLO name with the PTR of the connecting address; they should be the same name',
      observed: i.heloName,
      expected: hostname,
      fix: '[outbound]\nhelo_name = ""   # the hostname, which the PTR names',
    });
  }
}

/** Each public IPv4 address against the configured DNS blocklists. */
export async function checkDnsbls(i: ServerDnsInputs, add: AddFinding): Promise<void> {
  const { resolve } = i;
  for (const ip of i.publicAddresses.filter((a) => isIPv4(a) && !isPrivateAddress(a))) {
    const reversed = ip.split('.').reverse().join('.');
    for (const list of i.dnsbls) {
      const r = await query<string>(resolve, `${reversed}.${list}`, 'A');
      const codes = r.records.filter((a) => a.startsWith('127.'));
      if (codes.length === 0) continue;
      if (codes.some((a) => a.startsWith('127.255.255.'))) {
        add({
          id: 'dnsbl.refused',
          severity: 'warning',
          summary: `${list} refused the query (${codes.join(', ')})`,
          why: 'the blocklist does not answer queries from public or shared resolvers, so the listing could not be checked',
          observed: codes.join(', '),
          expected: 'NXDOMAIN (not listed)',
          fix: 'check with a resolver of your own: postern doctor --resolver 127.0.0.1',
        });
      } else {
        add({
          id: 'dnsbl.listed',
          severity: 'error',
          summary: `${ip} is listed on ${list} (${codes.join(', ')})`,
          why: 'receivers that use this list refuse mail from this address',
          observed: `${reversed}.${list} → ${codes.join(', ')}`,
          expected: 'not listed',
          fix: `find why (an open relay, a compromised account: postern queue list), fix it, then request delisting from ${list}`,
        });
      }
    }
  }
}
