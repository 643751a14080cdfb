/**
 * Sessions that have the same mailbox selected mostly hold the same UID list. Lists are immutable
 * Uint32Arrays, and equal lists are shared: a thousand IDLE clients on a 10,000-message mailbox hold
 * one 40 KB list between them instead of a thousand, also after each delivery they are all told of.
 * The table holds lists only weakly: a list no session holds any more is collected, so a mailbox
 * changed many times over (each change is a new list) leaves nothing behind.
 */
const MAX_ENTRIES = 4096;

export class UidSnapshots {
  private readonly byKey = new Map<string, WeakRef<Uint32Array>>();
  private readonly cleanup = new FinalizationRegistry<string>((key) => {
    if (this.byKey.get(key)?.deref() === undefined) this.byKey.delete(key);
  });

  /** An equal list already held, or `uids` itself (then held for others). */
  intern(mailboxId: number, uids: Uint32Array): Uint32Array {
    const key = `${mailboxId}:${uids.length}:${uids[0] ?? 0}:${uids[uids.length - 1] ?? 0}`;
    const held = this.byKey.get(key)?.deref();
    if (
      held &&
      Buffer.from(held.buffer, held.byteOffset, held.byteLength).equals(
        Buffer.from(uids.buffer, uids.byteOffset, uids.byteLength),
      )
    )
      return held;
    this.byKey.delete(key);
    this.byKey.set(key, new WeakRef(uids));
    this.cleanup.register(uids, key);
    if (this.byKey.size > MAX_ENTRIES) this.byKey.delete(this.byKey.keys().next().value!);
    return uids;
  }
}
