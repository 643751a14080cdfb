/**
 * The selected mailbox as one session sees it: UIDs in sequence order and the changes other sessions
 * made that this one has not been told yet. Changes are applied only when the session says it may
 * announce them (RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH), so a client's sequence
 * numbers always mean what it thinks they mean.
 */
import type { ChangeEvent, MailboxRecord } from '../../store/index.js';
import type { UidSnapshots } from './uid-snapshots.js';

export class SelectedMailbox {
  /** Immutable and shared with other sessions; every change makes a new list. */
  uids: Uint32Array;
  private readonly added = new Set<number>();
  private readonly expunged = new Set<number>();
  private readonly flagged = new Set<number>();
  /** UIDs that are \Recent in this session (RFC 3501 §2.3.2): it claimed them from the mailbox. */
  readonly recent = new Set<number>();
  /** Flags the client was told of in FLAGS, by lower-cased name: a keyword used for the first time needs a new FLAGS. */
  private readonly knownFlags = new Map<string, string>();
  onChange: (() => void) | undefined;

  constructor(
    public mailbox: MailboxRecord,
    uids: readonly number[],
    readonly isReadOnly: boolean,
    private readonly snapshots: UidSnapshots,
  ) {
    this.uids = snapshots.intern(mailbox.id, Uint32Array.from(uids));
  }

  private replace(next: Uint32Array): void {
    this.uids = this.snapshots.intern(this.mailbox.id, next);
  }

  /** The list without the given sequence numbers (1-based, ascending). */
  private without(seqs: number[]): Uint32Array {
    const drop = new Set(seqs);
    return this.uids.filter((_, i) => !drop.has(i + 1));
  }

  get exists(): number {
    return this.uids.length;
  }

  get maxUid(): number {
    return this.uids[this.uids.length - 1] ?? 0;
  }

  seqOf(uid: number): number {
    // UIDs are ascending: binary search
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** From the account's change feed. */
  apply(event: ChangeEvent): void {
    if (event.mailboxId !== this.mailbox.id) return;
    if (event.type === 'added') this.added.add(event.uid);
    else if (event.type === 'expunged') for (const u of event.uids) this.expunged.add(u);
    else if (event.type === 'flags') for (const u of event.uids) this.flagged.add(u);
    this.onChange?.();
  }

  /**
   * Records flags the client has been told of; true when some of `flags` were not among them, so a
   * FLAGS response must come first (RFC 9051 §7.3.5).
   */
  learnFlags(flags: Iterable<string>): boolean {
    let isNew = false;
    for (const f of flags) {
      const key = f.toLowerCase();
      if (key === '\\recent' || this.knownFlags.has(key)) continue;
      this.knownFlags.set(key, f);
      isNew = true;
    }
    return isNew;
  }

  /** The flags of the FLAGS response: every one the client was told of. */
  flagList(): string[] {
    return [...this.knownFlags.values()];
  }

  /** Our own flag change was already answered with FETCH responses. */
  forgetFlags(uids: number[]): void {
    for (const u of uids) this.flagged.delete(u);
  }

  get hasPending(): boolean {
    return this.added.size > 0 || this.expunged.size > 0 || this.flagged.size > 0;
  }

  /**
   * Takes the pending changes: expunges (only when allowed) as sequence numbers in the order they
   * must be sent, the UIDs to FETCH flags for, and whether new messages arrived.
   */
  take(allowExpunge: boolean): { expungedSeqs: number[]; flagUids: number[]; hasNew: boolean } {
    let expungedSeqs: number[] = [];
    if (allowExpunge && this.expunged.size) {
      for (const u of this.expunged) this.recent.delete(u);
      expungedSeqs = this.announceOrder([...this.expunged]);
      this.expunged.clear();
    }
    const flagUids = [...this.flagged].filter((u) => this.seqOf(u) > 0 && !this.expunged.has(u));
    this.flagged.clear();
    const hasNew = this.added.size > 0;
    this.added.clear();
    return { expungedSeqs, flagUids, hasNew };
  }

  /** New UIDs from the store, appended in order. */
  addUids(uids: number[]): void {
    const fresh = uids.filter((u) => u > this.maxUid).sort((a, b) => a - b);
    if (fresh.length === 0) return;
    const next = new Uint32Array(this.uids.length + fresh.length);
    next.set(this.uids);
    next.set(fresh, this.uids.length);
    this.replace(next);
  }

  /** Our own EXPUNGE: returns the sequence numbers to announce, in order. */
  removeUids(uids: number[]): number[] {
    for (const u of uids) {
      this.expunged.delete(u);
      this.recent.delete(u);
    }
    return this.announceOrder(uids);
  }

  /**
   * Removes the UIDs and returns the EXPUNGE sequence numbers in sending order: each one counted
   * after the previous ones are gone (RFC 9051 §7.5.1), so ascending UIDs give non-decreasing numbers.
   */
  private announceOrder(uids: number[]): number[] {
    const seqs = uids
      .map((u) => this.seqOf(u))
      .filter((seq) => seq > 0)
      .sort((a, b) => a - b);
    if (seqs.length === 0) return [];
    this.replace(this.without(seqs));
    return seqs.map((seq, i) => seq - i);
  }
}
