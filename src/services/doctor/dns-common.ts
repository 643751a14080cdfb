/**
 * What the DNS checks share: findings scoped to the name they are about, and fixes written as zone-file
 * lines (the records `postern dns` prints, or A/AAAA records for an address).
 */
import { isIPv4 } from 'node:net';
import type { Finding, Findings } from './findings.js';
import type { DnsRecord } from './records.js';

/** Adds one finding; the scope (a domain, or the hostname for server-wide checks) is filled in. */
export type AddFinding = (f: Omit<Finding, 'scope'>) => void;

export function scoped(findings: Findings, scope: string): AddFinding {
  return (f) => findings.add({ ...f, scope });
}

/** The expected records that `filter` picks, as zone-file lines: the fix for a missing or wrong record. */
export function zoneLines(expected: readonly DnsRecord[], filter: (r: DnsRecord) => boolean): string {
  return expected
    .filter(filter)
    .map((r) => `${r.name}  IN  ${r.type}  ${r.value}`)
    .join('\n');
}

/** A/AAAA lines giving `name` the addresses `ips`, or a placeholder when no address is known. */
export function addressRecords(name: string, ips: readonly string[]): string {
  if (ips.length === 0) return `${name}.  IN  A  <public IP of this server>`;
  return ips.map((ip) => `${name}.  IN  ${isIPv4(ip) ? 'A' : 'AAAA'}  ${ip}`).join('\n');
}
