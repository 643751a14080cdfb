/**
 * An account's mail as JMAP sees it (RFC 8621): emails named by their email id across mailboxes,
 * threads, and what changed since a state. States are the account's change-log position
 * (store/changes.ts), the same for every type: a state that moved for another type answers an empty
 * /changes. Every method takes the caller's account id and reads only that account's rows.
 */
import { MailError } from '../../lib/errors.js';
import type { ChangeRecord, MessageColumnsOmitted, MessageRecord, Store } from '../../store/index.js';

/** What changed between two states, as JMAP's /changes reports it. */
export interface ChangeSet {
  oldState: string;
  newState: string;
  hasMoreChanges: boolean;
  created: number[];
  updated: number[];
  destroyed: number[];
}

/** Change-log rows one /changes reads at most; beyond, the client is told to start over. */
export const MAX_CHANGE_ROWS = 100_000;

export class EmailViews {
  constructor(private readonly deps: { store: Store }) {}

  private get store(): Store {
    return this.deps.store;
  }

  /** The account's current state. */
  async state(accountId: number): Promise<string> {
    return String((await this.store.changeLog.position(accountId)).seq);
  }

  byIds(accountId: number, ids: number[], omit?: MessageColumnsOmitted): Promise<MessageRecord[]> {
    return this.store.emails.byIds(accountId, ids, omit);
  }

  inThreads(accountId: number, threadIds: number[]): Promise<MessageRecord[]> {
    return this.store.emails.inThreads(accountId, threadIds);
  }

  list(
    accountId: number,
    options: { mailboxId?: number; omit?: MessageColumnsOmitted } = {},
  ): Promise<MessageRecord[]> {
    return this.store.emails.list(accountId, options);
  }

  /** One mailbox's email ids newest first, a page of them, and how many there are. */
  page(
    accountId: number,
    mailboxId: number,
    offset: number,
    limit: number,
  ): Promise<{ emailIds: number[]; total: number }> {
    return this.store.emails.page(accountId, mailboxId, offset, limit);
  }

  /** Per mailbox: its emails and threads, and those unread. */
  counts(accountId: number): ReturnType<Store['emails']['counts']> {
    return this.store.emails.counts(accountId);
  }

  /**
   * Emails changed since `sinceState`, at most `maxChanges` ids. A MOVE writes a new row and removes
   * the old one under the same email id: counting the rows an id gained and lost tells whether it
   * existed before and after, so a moved email is updated, not created and destroyed.
   */
  /**
   * Emails changed since `sinceState`; `destroyedThreads` says the thread each destroyed one was in
   * (null when its removal was logged before the log kept threads).
   */
  async emailChanges(
    accountId: number,
    sinceState: string,
    maxChanges: number,
  ): Promise<ChangeSet & { destroyedThreads: Map<number, number | null> }> {
    const { since, rows, current } = await this.window(accountId, sinceState);
    const emails = rows.filter((r) => r.kind === 'email');
    const exists = new Set(
      (
        await this.byIds(accountId, [...new Set(emails.map((r) => r.objectId))], {
          envelope: 'all',
          bodyStructure: true,
        })
      ).map((m) => m.emailId),
    );
    // Rows each id gained (created) minus lost (destroyed), after each change number.
    const net = new Map<number, number>();
    for (const r of emails) net.set(r.objectId, (net.get(r.objectId) ?? 0) + rowDelta(r));
    const { end, ids } = cut(emails, maxChanges, since, current);
    // An id's rows at `end`: what it has now, less what it gained after `end`.
    const after = new Map<number, number>();
    for (const r of emails) if (r.seq > end) after.set(r.objectId, (after.get(r.objectId) ?? 0) + rowDelta(r));
    const out = changeSet(sinceState, end, end < current);
    for (const id of ids) {
      const rowsAtEnd = (exists.has(id) ? 1 : 0) - (after.get(id) ?? 0);
      const inWindow = (net.get(id) ?? 0) - (after.get(id) ?? 0);
      const rowsBefore = rowsAtEnd - inWindow;
      classify(out, id, rowsBefore > 0, rowsAtEnd > 0);
    }
    const destroyed = new Set(out.destroyed);
    const destroyedThreads = new Map<number, number | null>();
    for (const r of emails)
      if (r.change === 'destroyed' && destroyed.has(r.objectId) && r.seq <= end)
        destroyedThreads.set(r.objectId, r.threadId);
    return { ...out, destroyedThreads };
  }

  /**
   * Mailboxes changed since `sinceState`: created, renamed, (un)subscribed or deleted, and those
   * whose counts moved because an email in them changed (`countsOnly` when that is all).
   */
  async mailboxChanges(
    accountId: number,
    sinceState: string,
    maxChanges: number,
  ): Promise<ChangeSet & { countsOnly: boolean }> {
    const { since, rows, current } = await this.window(accountId, sinceState);
    const own = rows.filter((r) => r.kind === 'mailbox');
    const { end } = cut(
      rows.map((r) => ({ ...r, objectId: r.mailboxId })),
      maxChanges,
      since,
      current,
    );
    const inWindow = rows.filter((r) => r.seq <= end);
    const out = { ...changeSet(sinceState, end, end < current), countsOnly: true };
    const first = new Map<number, ChangeRecord['change']>();
    const last = new Map<number, ChangeRecord['change']>();
    for (const r of own.filter((r) => r.seq <= end)) {
      if (!first.has(r.objectId)) first.set(r.objectId, r.change);
      last.set(r.objectId, r.change);
    }
    for (const [id, change] of first) classify(out, id, change !== 'created', last.get(id) !== 'destroyed');
    // A mailbox made and removed within the window is none of the client's business.
    const touched = new Set(
      out.created.concat(
        out.updated,
        out.destroyed,
        [...last].filter(([, c]) => c === 'destroyed').map(([id]) => id),
      ),
    );
    for (const r of inWindow)
      if (r.kind === 'email' && !touched.has(r.mailboxId)) {
        touched.add(r.mailboxId);
        out.updated.push(r.mailboxId);
      }
    out.countsOnly = first.size === 0;
    return out;
  }

  /** The change-log rows after `sinceState`, or cannotCalculateChanges as INVALID_INPUT. */
  private async window(
    accountId: number,
    sinceState: string,
  ): Promise<{ since: number; rows: ChangeRecord[]; current: number }> {
    const since = /^\d{1,15}$/.test(sinceState) ? Number(sinceState) : NaN;
    const position = await this.store.changeLog.position(accountId);
    if (!Number.isSafeInteger(since) || since > position.seq)
      throw new MailError('INVALID_INPUT', `state ${sinceState.slice(0, 40)} is not one this server gave`);
    if (since < position.keptFrom) throw new MailError('LIMIT_REACHED', 'changes since that state are no longer kept');
    const rows = await this.store.changeLog.since(accountId, since, MAX_CHANGE_ROWS + 1);
    if (rows.length > MAX_CHANGE_ROWS) throw new MailError('LIMIT_REACHED', 'too many changes since that state');
    return { since, rows, current: rows.at(-1)?.seq ?? since };
  }
}

function rowDelta(r: ChangeRecord): number {
  return r.change === 'created' ? 1 : r.change === 'destroyed' ? -1 : 0;
}

/** The last change number whose ids fit in `max`, and those ids in order; whole change numbers only. */
/**
 * The last change number whose ids fit in `max`, and those ids in order; whole change numbers only.
 * When every row fits, the end is `current`: changes of other kinds after the last row are passed
 * too, or a client asking again would be told of more changes forever.
 */
function cut(
  rows: Array<{ seq: number; objectId: number }>,
  max: number,
  since: number,
  current: number,
): { end: number; ids: number[] } {
  const ids: number[] = [];
  const seen = new Set<number>();
  let end = since;
  for (const r of rows) {
    if (!seen.has(r.objectId)) {
      if (ids.length >= max) return { end, ids };
      seen.add(r.objectId);
      ids.push(r.objectId);
    }
    end = r.seq;
  }
  return { end: current, ids };
}

function changeSet(oldState: string, end: number, hasMoreChanges: boolean): ChangeSet {
  return {
    oldState,
    newState: String(end),
    hasMoreChanges,
    created: [],
    updated: [],
    destroyed: [],
  };
}

function classify(out: ChangeSet, id: number, before: boolean, now: boolean): void {
  if (!before && now) out.created.push(id);
  else if (before && now) out.updated.push(id);
  else if (before && !now) out.destroyed.push(id);
}
