/**
 * One DNS lookup for a rule, with a deadline of its own: an answer, "no such name/record" (an empty
 * list), or a failure (undefined, logged by the caller) — a rule never waits on a resolver for longer
 * than the deadline and never fails the message because DNS did.
 */
import type { DnsResolve } from '../../../mail/dns/resolver.js';

export const LOOKUP_TIMEOUT_MS = 3000;

export type Lookup = (name: string, rrtype: 'A' | 'AAAA' | 'PTR') => Promise<string[] | undefined>;

/** `onError` hears of each failed lookup (its name and error) for the log. */
export function lookupWith(
  resolve: DnsResolve,
  onError: (name: string, err: unknown) => void,
  timeoutMs = LOOKUP_TIMEOUT_MS,
): Lookup {
  return async (name, rrtype) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEOUT' })),
        timeoutMs,
      );
    });
    try {
      const answer = await Promise.race([resolve(name, rrtype), deadline]);
      return Array.isArray(answer) ? answer.filter((a): a is string => typeof a === 'string') : [];
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      onError(name, err);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}
