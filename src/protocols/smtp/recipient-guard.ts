/**
 * Refused recipients, counted as Postfix counts errors (smtpd_soft_error_limit, smtpd_hard_error_limit,
 * smtpd_error_sleep_time) and as its anvil counts clients: a connection that guesses at addresses is
 * slowed down after a few refusals and closed after more, and a network that keeps guessing across
 * connections is refused for a while. This is what makes guessing addresses (directory harvesting,
 * SRS hashes) slow and visible.
 *
 * A large provider's outgoing address sends for many users, some to addresses that no longer exist:
 * the messages it delivered offset its refusals, one each however many recipients it had, so such a
 * network is refused only when its refusals outnumber its deliveries by the limit. A harvester can
 * buy more guesses only by delivering a message per guess to a real mailbox, which its owner sees.
 */
import { sourceKey } from '../../lib/ip.js';

export interface RecipientGuardLimits {
  /** Refused recipients of one source within the window before its further RCPTs are refused. */
  maxPerSource: number;
  windowMs: number;
  ipv6Prefix: number;
}

interface Count {
  refused: number;
  /** Messages delivered (after DATA) since the first refusal. */
  delivered: number;
  since: number;
}

/** Sources kept at most; the oldest are dropped past it. */
const MAX_SOURCES = 100_000;

export class RecipientGuard {
  private readonly sources = new Map<string, Count>();

  constructor(private readonly limits: RecipientGuardLimits) {}

  /** Whether the source of `ip` has used up its refusals for this window. */
  isBlocked(ip: string, now = Date.now()): boolean {
    const c = this.current(sourceKey(ip, this.limits.ipv6Prefix), now);
    return c !== undefined && c.refused - c.delivered >= this.limits.maxPerSource;
  }

  /** Counts a delivered message against the source's refusals (if it has any). */
  delivered(ip: string, now = Date.now()): void {
    const c = this.current(sourceKey(ip, this.limits.ipv6Prefix), now);
    if (c) c.delivered++;
  }

  /** Counts one refused recipient; returns the source's count in this window. */
  refused(ip: string, now = Date.now()): number {
    const key = sourceKey(ip, this.limits.ipv6Prefix);
    let c = this.current(key, now);
    if (!c) {
      if (this.sources.size >= MAX_SOURCES) {
        // The oldest first (a Map keeps insertion order): no scan of the rest.
        for (const k of this.sources.keys()) {
          if (this.sources.size < MAX_SOURCES * 0.9) break;
          this.sources.delete(k);
        }
      }
      c = { refused: 0, delivered: 0, since: now };
      this.sources.set(key, c);
    }
    return ++c.refused;
  }

  private current(key: string, now: number): Count | undefined {
    const c = this.sources.get(key);
    if (c && now - c.since > this.limits.windowMs) {
      this.sources.delete(key);
      return undefined;
    }
    return c;
  }
}
