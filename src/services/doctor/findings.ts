/** What the doctor reports: one finding per mistake, with a stable id, what was seen, what is needed and the fix. */
import type { DnsResolve } from '../../mail/dns/resolver.js';

/** error: mail is lost, refused or unreadable; warning: it is at risk; info: advice, no exit-code effect. */
export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** Stable identifier, e.g. "spf.syntax"; scripts may rely on it. */
  id: string;
  severity: Severity;
  /** The domain the finding is about, or the server's hostname for server-wide checks. */
  scope: string;
  /** What is wrong, in one line. */
  summary: string;
  /** Why it breaks mail. */
  why: string;
  observed: string;
  expected: string;
  /** The record or setting that fixes it, copy-pasteable. */
  fix: string;
}

export class Findings {
  readonly list: Finding[] = [];
  add(f: Finding): void {
    this.list.push(f);
  }
}

export interface Answer<T> {
  records: T[];
  /** Set when the lookup failed (SERVFAIL, timeout); an empty answer or NXDOMAIN is no error. */
  error?: string;
  nxdomain?: boolean;
}

/** One DNS question; empty answers and NXDOMAIN are answers, other failures are reported as error codes. */
export async function query<T>(resolve: DnsResolve, name: string, type: string): Promise<Answer<T>> {
  try {
    return { records: (await resolve(name.replace(/\.$/, ''), type)) as T[] };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'ERROR';
    if (code === 'ENODATA') return { records: [] };
    if (code === 'ENOTFOUND') return { records: [], nxdomain: true };
    return { records: [], error: code };
  }
}

export async function addresses(
  resolve: DnsResolve,
  name: string,
): Promise<{ v4: string[]; v6: string[]; error?: string }> {
  const [a, aaaa] = await Promise.all([query<string>(resolve, name, 'A'), query<string>(resolve, name, 'AAAA')]);
  const error = a.error ?? aaaa.error;
  return { v4: a.records, v6: aaaa.records, ...(error ? { error } : {}) };
}

/** RFC 1918, loopback, link-local, CGNAT, unique-local: not reachable from the internet. */
export function isPrivateAddress(ip: string): boolean {
  if (ip.includes(':')) return /^(?:::1?$|f[cd]|fe[89ab])/i.test(ip);
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b <= 127)
  );
}

/** Whether a certificate name (possibly "*.example.com") covers `name` (RFC 6125 §6.4.3: one label). */
export function nameCovered(certNames: readonly string[], name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return certNames.some((c) => {
    const cn = c.toLowerCase();
    if (cn === n) return true;
    const dot = n.indexOf('.');
    return cn.startsWith('*.') && dot > 0 && cn.slice(1) === n.slice(dot);
  });
}
