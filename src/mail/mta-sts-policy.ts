/**
 * The MTA-STS policy a hosted domain publishes (RFC 8461 §3.2) and the id of its _mta-sts TXT
 * record, which changes whenever the policy text does (§3.1).
 */
import { createHash } from 'node:crypto';

export interface MtaStsPolicyInput {
  mode: 'enforce' | 'testing' | 'none';
  mx: readonly string[];
  maxAgeSeconds: number;
}

export function mtaStsPolicy(p: MtaStsPolicyInput): string {
  // §3.2: key/value lines; CRLF as the RFC's examples write it. max_age at most 31557600.
  const lines = [
    'version: STSv1',
    `mode: ${p.mode}`,
    ...p.mx.map((m) => `mx: ${m}`),
    `max_age: ${Math.min(31_557_600, Math.max(0, Math.floor(p.maxAgeSeconds)))}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** §3.1: id is 1-32 alphanumerics. */
export function mtaStsPolicyId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}
