/**
 * The POP3 maildrop lock (RFC 1939 §8, RFC 2449 §8.1.1 [IN-USE]): one session at a time holds an
 * account's maildrop, shared by every POP3 listener of the process.
 *
 * A client whose connection died without a FIN (a phone changing networks, a NAT timeout) would hold
 * its lock until the idle timeout, and each retry would get [IN-USE]. So a new login takes the
 * maildrop over from a holder that has been silent for `takeoverAfterMs` ([pop3] lock_takeover_after):
 * the holder is ended without entering the UPDATE state, so none of its deletions are applied.
 */
export interface MaildropHolder {
  /** When the holder last heard from its client or got its output through. */
  lastActivity(): number;
  /** Ends the session at once, deleting nothing. */
  takenOver(): void;
}

export type Acquired = { ok: true; tookOverAfterMs?: number } | { ok: false };

export class MaildropLocks {
  private readonly holders = new Map<number, MaildropHolder>();

  constructor(private readonly takeoverAfterMs: number) {}

  acquire(accountId: number, holder: MaildropHolder, now = Date.now()): Acquired {
    const current = this.holders.get(accountId);
    if (!current) {
      this.holders.set(accountId, holder);
      return { ok: true };
    }
    const silentMs = now - current.lastActivity();
    if (silentMs < this.takeoverAfterMs) return { ok: false };
    this.holders.set(accountId, holder);
    current.takenOver();
    return { ok: true, tookOverAfterMs: silentMs };
  }

  /** Releases the lock if `holder` still has it (a session taken over no longer does). */
  release(accountId: number, holder: MaildropHolder): void {
    if (this.holders.get(accountId) === holder) this.holders.delete(accountId);
  }

  holds(accountId: number, holder: MaildropHolder): boolean {
    return this.holders.get(accountId) === holder;
  }
}
