/**
 * `postern doctor`: every DNS, TLS, port and authentication mistake that breaks mail, each as a finding
 * with the fix. The resolver, the certificate files and the listener addresses are passed in.
 */
import { spf } from 'mailauth/lib/spf/index.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import type { DkimKeyRecord } from '../../store/index.js';
import { checkDomainDns, checkDomainRecords, checkHostName, checkServerDns } from './dns.js';
import { Findings, query, type Finding, type Severity } from './findings.js';
import { checkNetwork, type ListenerTarget, type NetInputs } from './net.js';
import { recordsFor, type RecordInputs } from './records.js';

export type { Finding, Severity } from './findings.js';

export interface DoctorDomain {
  name: string;
  aliasOf: string | null;
  dkimKeys: readonly DkimKeyRecord[];
  /** What `postern dns` prints for it. */
  records: RecordInputs;
}

export interface DoctorInputs {
  hostname: string;
  heloName: string;
  publicAddresses: readonly string[];
  domains: readonly DoctorDomain[];
  listeners: readonly ListenerTarget[];
  certificateFiles: ReadonlyArray<{ keyFile: string; chainFile: string }>;
  certificateNames: readonly (readonly string[])[];
  allowPlaintextAuth: boolean;
  expiryWarningMs: number;
  dnsbls: readonly string[];
  probeUrl?: string | undefined;
  outboundTarget?: { host: string; port: number } | undefined;
  timeoutMs: number;
  resolve: DnsResolve;
  /** GET https://mta-sts.D/.well-known/mta-sts.txt from this server's HTTPS listener. */
  fetchPolicy(domain: string): Promise<{ status: number; body: string } | { error: string }>;
}

export interface DoctorReport {
  hostname: string;
  publicAddresses: string[];
  /** The names and ports mail clients must be configured with: never an internal name or an IP. */
  clientSettings: Array<{ service: string; host: string; port: number }>;
  findings: Finding[];
  counts: Record<Severity, number>;
}

export async function runDoctor(i: DoctorInputs): Promise<DoctorReport> {
  const findings = new Findings();
  checkHostName(i.hostname, findings);
  const dnsDown = await checkResolver(i, findings);
  if (!dnsDown) {
    await checkServerDns({
      hostname: i.hostname,
      heloName: i.heloName,
      publicAddresses: i.publicAddresses,
      dnsbls: i.dnsbls,
      resolve: i.resolve,
      findings,
    });
  }
  const extraNames: ExtraName[] = [];
  for (const d of i.domains) {
    if (!d.aliasOf) for (const name of d.records.webNames) extraNames.push({ scope: d.name, name, listener: 'https' });
    if (!dnsDown) await checkDomain(i, d, findings, extraNames);
  }
  await checkNetwork({
    hostname: i.hostname,
    listeners: i.listeners,
    allowPlaintextAuth: i.allowPlaintextAuth,
    expiryWarningMs: i.expiryWarningMs,
    extraNames,
    certificateFiles: i.certificateFiles,
    publicAddresses: i.publicAddresses,
    probeUrl: i.probeUrl,
    outboundTarget: i.outboundTarget,
    timeoutMs: i.timeoutMs,
    findings,
  });
  return report(i, findings);
}

/**
 * One hosted domain's DNS findings (the admin API's per-domain doctor): the resolver, then the
 * domain's records; none of the server-wide or network checks `postern doctor` also runs.
 */
export async function runDomainDoctor(i: DoctorInputs, domain: DoctorDomain): Promise<DoctorReport> {
  const findings = new Findings();
  if (!(await checkResolver(i, findings))) await checkDomain(i, domain, findings, []);
  return report(i, findings);
}

/** A name to handshake with on the smtp or https listener, for a domain's findings. */
type ExtraName = NetInputs['extraNames'][number];

/**
 * A resolver that does not answer at all would turn every DNS check into an error: say that once
 * instead. Returns whether DNS is down (then the DNS checks are skipped).
 */
async function checkResolver(i: DoctorInputs, findings: Findings): Promise<boolean> {
  const probe = await query<string>(i.resolve, i.hostname, 'A');
  const dnsDown = probe.error !== undefined && /ECONNREFUSED|ETIMEOUT|ECONNRESET|EREFUSED/.test(probe.error);
  if (dnsDown) {
    findings.add({
      scope: i.hostname,
      id: 'dns.resolver.unreachable',
      severity: 'error',
      summary: `the DNS resolver does not answer (${probe.error}); DNS checks were skipped`,
      why: 'every DNS check, and the server itself (SPF, DKIM, DMARC, MX lookups), depends on it',
      observed: probe.error!,
      expected: 'answers',
      fix: 'check [dns] resolvers in postern.toml, or pass --resolver ADDR (ip or ip:port)',
    });
  }
  return dnsDown;
}

/** One hosted domain's DNS: MX and SPF, whether SPF lets this server through, then the other records. */
async function checkDomain(
  i: DoctorInputs,
  d: DoctorDomain,
  findings: Findings,
  extraNames: ExtraName[],
): Promise<void> {
  const expected = recordsFor(d.records);
  const inputs = {
    domain: d.name,
    aliasOf: d.aliasOf,
    hostname: i.hostname,
    publicAddresses: i.publicAddresses,
    dkimKeys: d.dkimKeys.filter((k) => k.status !== 'retired'),
    expected,
    webNames: d.records.webNames,
    certificateNames: i.certificateNames,
    srv: d.records.srv,
    mtaStsId: d.records.mtaStsId,
    fetchPolicy: i.fetchPolicy,
    resolve: i.resolve,
    findings,
  };
  const { ourMxHosts } = await checkDomainDns(inputs);
  const spfPermitted = await spfPermits(i, d.name);
  if (
    !spfPermitted.pass &&
    !spfPermitted.temporary &&
    !findings.list.some((f) => f.scope === d.name && f.id.startsWith('spf.') && f.severity === 'error')
  ) {
    findings.add({
      scope: d.name,
      id: 'spf.ip-not-permitted',
      severity: 'error',
      summary: `the SPF record of ${d.name} does not permit this server (${spfPermitted.detail})`,
      why: 'mail you send fails SPF at the receiver; with DMARC p=reject or quarantine it is refused or junked unless DKIM passes',
      observed: spfPermitted.detail,
      expected: "pass for this server's address",
      fix: `${d.name}.  IN  TXT  "v=spf1 mx -all"   # or add ${i.publicAddresses.map((ip) => `${ip.includes(':') ? 'ip6' : 'ip4'}:${ip}`).join(' ')} to the record`,
    });
  }
  await checkDomainRecords({ ...inputs, ourMxHosts, spfPermitted: spfPermitted.pass });
  for (const host of ourMxHosts)
    if (host !== i.hostname.toLowerCase()) extraNames.push({ scope: d.name, name: host, listener: 'smtp' });
}

/** Findings by scope (server first, then domains in order) and severity, with the client settings. */
function report(i: DoctorInputs, findings: Findings): DoctorReport {
  const order = new Map<string, number>([[i.hostname, 0], ...i.domains.map((d, n) => [d.name, n + 1] as const)]);
  const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  const list = findings.list.sort(
    (a, b) => (order.get(a.scope) ?? 99) - (order.get(b.scope) ?? 99) || rank[a.severity] - rank[b.severity],
  );
  const port = (name: string) => i.listeners.find((l) => l.name === name)?.port;
  const clientSettings = (
    [
      ['IMAP (TLS)', 'imaps'],
      ['IMAP (STARTTLS)', 'imap'],
      ['SMTP submission (TLS)', 'submissions'],
      ['SMTP submission (STARTTLS)', 'submission'],
      ['POP3 (TLS)', 'pop3s'],
      ['POP3 (STLS)', 'pop3'],
    ] as const
  ).flatMap(([service, l]) => (port(l) ? [{ service, host: i.hostname, port: port(l)! }] : []));
  return {
    hostname: i.hostname,
    publicAddresses: [...i.publicAddresses],
    clientSettings,
    findings: list,
    counts: {
      error: list.filter((f) => f.severity === 'error').length,
      warning: list.filter((f) => f.severity === 'warning').length,
      info: list.filter((f) => f.severity === 'info').length,
    },
  };
}

/** Whether SPF (RFC 7208 check_host) passes for each public address, as a receiver would evaluate it. */
async function spfPermits(
  i: DoctorInputs,
  domain: string,
): Promise<{ pass: boolean; detail: string; temporary?: boolean }> {
  if (i.publicAddresses.length === 0) return { pass: true, detail: 'no public address to check' };
  for (const ip of i.publicAddresses) {
    const r = await spf({ sender: `postmaster@${domain}`, ip, helo: i.hostname, mta: i.hostname, resolver: i.resolve });
    const result = r.status.result;
    if (result !== 'pass') return { pass: false, detail: `${result} for ${ip}`, temporary: result === 'temperror' };
  }
  return { pass: true, detail: 'pass' };
}
