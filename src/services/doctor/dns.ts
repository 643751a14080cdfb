/**
 * DNS checks: the server's own names (A/AAAA, PTR and FCrDNS, HELO, DNSBLs) and each hosted domain's
 * records (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV), each compared with what `postern dns` prints.
 */
import { isIP, isIPv4 } from 'node:net';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import { dkimTxtValue, parseDkimKeyRecord } from '../../mail/dkim/record.js';
import { isDmarcRecord, parseDmarc, reportAddresses } from '../../mail/dmarc/record.js';
import { isSpfRecord, looksLikeSpf, parseSpf, LOOKUP_TERMS } from '../../mail/spf/record.js';
import type { DkimKeyRecord } from '../../store/index.js';
import { addresses, isPrivateAddress, nameCovered, query, type Findings, type Finding } from './findings.js';
import { quoteTxt, reverseName, type DnsRecord } from './records.js';

export interface ServerDnsInputs {
  hostname: string;
  heloName: string;
  publicAddresses: readonly string[];
  dnsbls: readonly string[];
  resolve: DnsResolve;
  findings: Findings;
}

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

export async function checkServerDns(i: ServerDnsInputs): Promise<void> {
  const { hostname, resolve, findings } = i;
  const add = (f: Omit<Finding, 'scope'>) => findings.add({ ...f, scope: hostname });
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
  for (const ip of publicIps) {
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
  for (const ip of publicIps.filter((a) => isIPv4(a) && !isPrivateAddress(a))) {
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

export interface DomainDnsInputs {
  domain: string;
  /** For a domain alias: the hosted domain whose mail it receives. */
  aliasOf: string | null;
  hostname: string;
  publicAddresses: readonly string[];
  /** active and pending keys */
  dkimKeys: readonly DkimKeyRecord[];
  /** The records `postern dns` prints for the domain: the expected values and fixes. */
  expected: readonly DnsRecord[];
  /** Names served over HTTPS for the domain (mta-sts.D, autoconfig.D …). */
  webNames: readonly string[];
  certificateNames: readonly (readonly string[])[];
  /** SRV services and the port each should name. */
  srv: ReadonlyArray<{ service: string; port: number }>;
  mtaStsId: string;
  /** Fetches https://mta-sts.D/.well-known/mta-sts.txt from this server. */
  fetchPolicy(domain: string): Promise<{ status: number; body: string } | { error: string }>;
  resolve: DnsResolve;
  findings: Findings;
}

export interface DomainDnsResult {
  /** MX hosts of the domain that are this server (to check TLS on). */
  ourMxHosts: string[];
}

export async function checkDomainDns(i: DomainDnsInputs): Promise<DomainDnsResult> {
  const { domain, resolve } = i;
  const add = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: domain });
  const zone = (filter: (r: DnsRecord) => boolean) =>
    i.expected
      .filter(filter)
      .map((r) => `${r.name}  IN  ${r.type}  ${r.value}`)
      .join('\n');
  const mxFix = zone((r) => r.type === 'MX');

  // MX (RFC 5321 §5.1; RFC 2181 §10.3: never a CNAME; RFC 7505 null MX)
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
        continue;
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
      if (host === i.hostname.toLowerCase() || all.some((ip) => i.publicAddresses.includes(ip))) ourMxHosts.push(host);
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

  // SPF (RFC 7208)
  const txt = await query<string[]>(resolve, domain, 'TXT');
  const texts = txt.records.map((parts) => parts.join(''));
  const spfs = texts.filter(isSpfRecord);
  const broken = texts.filter(looksLikeSpf);
  const spfFix = zone((r) => r.type === 'TXT' && r.name === `${domain}.`);
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
  for (const record of spfs.length === 1 ? spfs : spfs.length === 0 ? broken : []) {
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
      continue;
    }
    const all = parsed.terms.find((t) => t.name === 'all');
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
    } else if (!all && !parsed.terms.some((t) => t.name === 'redirect')) {
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
    const walk = { lookups: 0, voids: [] as string[], missingIncludes: [] as string[] };
    await walkSpf(resolve, domain, parsed.terms, walk, 0);
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
  return { ourMxHosts };
}

async function walkSpf(
  resolve: DnsResolve,
  domain: string,
  terms: ReturnType<typeof parseSpf>['terms'],
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

export async function checkDomainRecords(
  i: DomainDnsInputs & { ourMxHosts: string[]; spfPermitted: boolean },
): Promise<void> {
  const { domain, resolve } = i;
  const add = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: domain });
  const zone = (filter: (r: DnsRecord) => boolean) =>
    i.expected
      .filter(filter)
      .map((r) => `${r.name}  IN  ${r.type}  ${r.value}`)
      .join('\n');
  if (i.aliasOf) return; // an alias needs MX and SPF only: its mail is signed and reported under its own name by the target

  // DKIM (RFC 6376 §3.6.2)
  let dkimOk = false;
  for (const key of i.dkimKeys) {
    const name = `${key.selector}._domainkey.${domain}`;
    const fix = zone((r) => r.name === `${name}.`);
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
      continue;
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
        continue;
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
        observed: doubled.records.length
          ? `found at ${name}.${domain} instead`
          : 'no TXT record (wrong selector name?)',
        expected: expectedValue,
        fix: fix + hint,
      });
      continue;
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
      continue;
    }
    if (matches.length) {
      dkimOk = dkimOk || key.status === 'active';
      continue;
    }
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

  // DMARC (RFC 7489 §6.1, §6.3)
  const dmarcName = `_dmarc.${domain}`;
  const dmarcFix = zone((r) => r.name === `${dmarcName}.`);
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
      const spfAligned = i.spfPermitted;
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
  }

  // MTA-STS (RFC 8461 §3) and TLS-RPT (RFC 8460 §3)
  const stsName = `_mta-sts.${domain}`;
  const sts = await query<string[]>(resolve, stsName, 'TXT');
  const stsRecords = sts.records.map((p) => p.join('')).filter((t) => /^v=STSv1/i.test(t));
  const stsFix = zone((r) => r.name === `${stsName}.`);
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
      const uncovered = i.ourMxHosts.filter((h) => !parsed || !validateMx(h, parsed).valid);
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
      const id = /id=([A-Za-z0-9]+)/.exec(stsRecords[0]!)![1];
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
  const rptName = `_smtp._tls.${domain}`;
  const rpt = await query<string[]>(resolve, rptName, 'TXT');
  const rpts = rpt.records.map((p) => p.join('')).filter((t) => /tlsrpt/i.test(t));
  const rptFix = zone((r) => r.name === `${rptName}.`);
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

  // Names served over HTTPS (MTA-STS policy host, autoconfig)
  for (const name of i.webNames) {
    const a = await addresses(resolve, name);
    const all = [...a.v4, ...a.v6];
    if (a.error) continue;
    if (all.length === 0 || (i.publicAddresses.length && !all.some((ip) => i.publicAddresses.includes(ip)))) {
      add({
        id: all.length === 0 ? 'web.address.missing' : 'web.address.mismatch',
        severity: name.startsWith('mta-sts.') && stsRecords.length ? 'error' : 'warning',
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

  // SRV autodiscovery (RFC 6186 §3, RFC 8314 §5.1)
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
        fix: zone((rec) => rec.name === `${name}.`),
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
      fix: zone((rec) => rec.type === 'SRV' && missing.some((s) => rec.name === `${s.service}.${domain}.`)),
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

/** The last two labels: enough to tell a third party's report address from the domain's own. */
function orgDomain(name: string): string {
  return name.toLowerCase().split('.').slice(-2).join('.');
}

function addressRecords(name: string, ips: readonly string[]): string {
  if (ips.length === 0) return `${name}.  IN  A  <public IP of this server>`;
  return ips.map((ip) => `${name}.  IN  ${isIPv4(ip) ? 'A' : 'AAAA'}  ${ip}`).join('\n');
}
