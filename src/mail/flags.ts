/**
 * IMAP flags of a message (RFC 9051 §2.3.2): a set in which system flags keep their canonical case
 * and keywords are kept as given, with the bounds every path that sets them (STORE, APPEND, Sieve's
 * imap4flags, delivery) shares. Each keyword is kept with every message and sent in every FLAGS
 * response, so a message may carry only so many, each only so long.
 */
import { MailError } from '../lib/errors.js';

export type FlagChange = 'add' | 'remove' | 'set';

export const MAX_FLAGS_PER_MESSAGE = 64;
export const MAX_FLAG_LENGTH = 100;

/** RFC 9051 §2.3.2 system flags in their canonical case: `\seen` from a client is `\Seen`. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
const CANONICAL = new Map<string, string>([...SYSTEM_FLAGS, '\\Recent'].map((f) => [f.toLowerCase(), f]));

export function normalizeFlags(flags: string[]): string[] {
  const seen = new Map<string, string>();
  for (const f of flags) {
    const key = f.toLowerCase();
    if (!seen.has(key)) seen.set(key, CANONICAL.get(key) ?? f);
  }
  return [...seen.values()].sort();
}

/** The flags a new message is stored with (APPEND, delivery): normalised; LIMIT_REACHED past the bounds above. */
export function messageFlags(flags: string[]): string[] {
  const normalized = normalizeFlags(flags);
  checkFlags(normalized);
  return normalized;
}

/** The flags after a change; LIMIT_REACHED when they would pass the bounds above. */
export function applyFlags(before: string[], change: FlagChange, flags: string[]): string[] {
  const lower = new Set(flags.map((f) => f.toLowerCase()));
  const after =
    change === 'set'
      ? normalizeFlags(flags)
      : change === 'add'
        ? normalizeFlags([...before, ...flags])
        : before.filter((f) => !lower.has(f.toLowerCase()));
  if (change !== 'remove') checkFlags(after);
  return after;
}

export function checkFlags(flags: string[]): void {
  if (flags.length > MAX_FLAGS_PER_MESSAGE)
    throw new MailError('LIMIT_REACHED', `a message carries at most ${MAX_FLAGS_PER_MESSAGE} flags`);
  const long = flags.find((f) => f.length > MAX_FLAG_LENGTH);
  if (long) throw new MailError('LIMIT_REACHED', `a flag is at most ${MAX_FLAG_LENGTH} characters`);
}
