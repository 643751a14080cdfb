/**
 * The selected mailbox as one session sees it: UIDs in sequence order and the changes other sessions
 * made that this one has not been told yet. Changes are applied only when the session says it may
 * announce them (RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH), so a client's sequence
 * numbers always mean what it thinks they mean.
 */
import type { ChangeEvent, MailboxRecord } from '../../store/index.js';

export class SelectedMailbox {
  uids: number[];
  private readonly added = new Set<number>();
  private readonly expunged = new Set<number>();
  private readonly flagged = new Set<number>();
  onChange: (() => void) | undefined;

  constructor(
    public mailbox: MailboxRecord,
    uids: number[],
    readonly isReadOnly: boolean,
  ) {
    this.uids = uids;
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
    const expungedSeqs: number[] = [];
    if (allowExpunge && this.expunged.size) {
      for (const uid of [...this.expunged].sort((a, b) => a - b)) {
        const seq = this.seqOf(uid);
        if (seq === 0) continue;
        this.uids.splice(seq - 1, 1);
        expungedSeqs.push(seq);
      }
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
    for (const u of uids) if (u > this.maxUid) this.uids.push(u);
  }

  /** Our own EXPUNGE: returns the sequence numbers to announce, in order. */
  removeUids(uids: number[]): number[] {
    const seqs: number[] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      this.uids.splice(seq - 1, 1);
      this.expunged.delete(uid);
      seqs.push(seq);
    }
    return seqs;
  }
}
