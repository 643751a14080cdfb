/**
 * Sieve variables (RFC 5229) and the flag variables of imap4flags (RFC 5232): values are truncated to
 * MAX_VARIABLE_BYTES, and flags kept in a variable are only those a message may carry.
 */
import { MAX_FLAGS_PER_MESSAGE, SYSTEM_FLAGS } from '../flags.js';

const MAX_VARIABLE_BYTES = 4096; // RFC 5229 §6: an implementation may truncate variables
/** The internal variable of imap4flags (RFC 5232 §3); no script can name it. */
export const FLAGS_VAR = '\u0000flags';
/** RFC 5232 §3 / RFC 9051 §2.3.2: the system flags a script may set (not \Recent). */
const SYSTEM_FLAG_NAMES = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

export function truncate(v: string): string {
  return Buffer.byteLength(v) <= MAX_VARIABLE_BYTES
    ? v
    : Buffer.from(v)
        .subarray(0, MAX_VARIABLE_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, '');
}

export function splitFlags(s: string): string[] {
  return s.split(/\s+/).filter(Boolean);
}

/** Valid, settable flags only (a flag built from message text may hold anything), each once. */
export function uniqueFlags(flags: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of flags) {
    if (out.length >= MAX_FLAGS_PER_MESSAGE) break; // the rest would be refused at delivery
    const flag = raw.startsWith('\\') ? SYSTEM_FLAG_NAMES.get(raw.toLowerCase()) : validKeyword(raw) ? raw : undefined;
    if (flag === undefined || seen.has(flag.toLowerCase())) continue;
    seen.add(flag.toLowerCase());
    out.push(flag);
  }
  return out;
}

/** RFC 9051 §9 flag-keyword: an atom (no SP, CTL, ( ) { % * " \\ ]), at most 100 characters. */
function validKeyword(k: string): boolean {
  return k.length > 0 && k.length <= 100 && !/[\x00-\x20\x7f-\uffff(){%*"\\\]]/.test(k);
}
