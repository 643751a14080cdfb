/**
 * DNS checks: the server's own names (A/AAAA, PTR and FCrDNS, HELO, DNSBLs) and each hosted domain's
 * records (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV), each compared with what `postern dns` prints.
 * This file runs them in order; each concern is its own file: dns-server.ts, dns-mx.ts, dns-spf.ts,
 * dns-dkim.ts, dns-dmarc.ts, dns-mta-sts.ts (with TLS-RPT), dns-discovery.ts (web names, SRV).
 */
import type { DnsResolve } from '../../mail/dns/resolver.js';
import type { DkimKeyRecord } from '../../store/index.js';
import { scoped } from './dns-common.js';
import { checkDkim } from './dns-dkim.js';
import { checkDmarc } from './dns-dmarc.js';
import { checkSrv, checkWebNames } from './dns-discovery.js';
import { checkMtaSts, checkTlsRpt } from './dns-mta-sts.js';
import { checkMx } from './dns-mx.js';
import { checkDnsbls, checkHeloName, checkReverseDns, checkServerAddresses } from './dns-server.js';
import { checkSpf } from './dns-spf.js';
import type { Findings } from './findings.js';
import type { DnsRecord } from './records.js';

export { checkHostName } from './dns-server.js';

export interface ServerDnsInputs {
  hostname: string;
  heloName: string;
  publicAddresses: readonly string[];
  dnsbls: readonly string[];
  resolve: DnsResolve;
  findings: Findings;
}

export async function checkServerDns(i: ServerDnsInputs): Promise<void> {
  const add = scoped(i.findings, i.hostname);
  await checkServerAddresses(i, add);
  await checkReverseDns(i, add);
  checkHeloName(i, add);
  await checkDnsbls(i, add);
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
  const add = scoped(i.findings, i.domain);
  const ourMxHosts = await checkMx(i, add);
  await checkSpf(i, add);
  return { ourMxHosts };
}

export async function checkDomainRecords(
  i: DomainDnsInputs & { ourMxHosts: string[]; spfPermitted: boolean },
): Promise<void> {
  if (i.aliasOf) return; // an alias needs MX and SPF only: its mail is signed and reported under its own name by the target
  const add = scoped(i.findings, i.domain);
  const dkimOk = await checkDkim(i, add);
  await checkDmarc(i, add, dkimOk, i.spfPermitted);
  const stsRecords = await checkMtaSts(i, add, i.ourMxHosts);
  await checkTlsRpt(i, add);
  await checkWebNames(i, add, stsRecords.length > 0);
  await checkSrv(i, add);
}
