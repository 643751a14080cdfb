/**
 * Messages in SQLite: append with the next UID and modseq, lean listing (rows read as arrays, columns
 * left out on request, JSON parsed on first use), flag changes and expunge. Usage, message counts and
 * content references follow the rows through triggers (migrations.ts).
 */
import { MailError } from '../../lib/errors.js';
import { applyFlags, messageFlags } from '../../mail/flags.js';
import type {
  FlagChange,
  MessageColumnsOmitted,
  MessageRecord,
  MessageRepo,
  MessageSummary,
  NewMessage,
} from '../index.js';
import type { Db, Exec } from './engine.js';

export const MESSAGE_COLUMNS =
  'id, mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, envelope, body_structure, header_prefix, envelope_wire, COALESCE(email_id, id), COALESCE(thread_id, email_id, id)';
/** A column the caller asked to leave out: reading it is a programming error. */
const NOT_READ = Symbol('not read');

/** The column list for `list`, with what the caller does not need left out (read back as NOT_READ). */
export function messageColumns(omit: MessageColumnsOmitted | undefined): string {
  if (!omit) return MESSAGE_COLUMNS;
  // 0 marks a column left out: stored values are text or NULL.
  const envelope =
    omit.envelope === 'all'
      ? '0'
      : omit.envelope === 'when-wired'
        ? 'CASE WHEN envelope_wire IS NULL THEN envelope ELSE 0 END'
        : 'envelope';
  const structure = omit.bodyStructure ? '0' : 'body_structure';
  return `id, mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, ${envelope}, ${structure}, header_prefix, envelope_wire, COALESCE(email_id, id), COALESCE(thread_id, email_id, id)`;
}
export type MessageTuple = [
  number,
  number,
  number,
  number,
  string,
  number,
  number,
  string,
  string | null | 0,
  string | null | 0,
  string,
  string | null,
  number,
  number,
];

/**
 * A message row read as an array (no per-row column-name object). Envelope and body structure are
 * parsed on first use: FETCH FLAGS of 10,000 messages needs neither.
 */
export class StoredRow implements MessageRecord {
  readonly id: number;
  readonly emailId: number;
  readonly threadId: number;
  readonly mailboxId: number;
  readonly uid: number;
  readonly modseq: number;
  readonly blobHash: string;
  readonly size: number;
  readonly flags: string[];
  readonly headerPrefix: string;
  readonly envelopeWire: string | null;
  #internalDate: number | Date;
  #envelope: unknown;
  #bodyStructure: unknown;
  #isParsed = 0; // bit 1: envelope, bit 2: body structure

  constructor(t: MessageTuple) {
    this.id = t[0];
    this.mailboxId = t[1];
    this.uid = t[2];
    this.modseq = t[3];
    this.blobHash = t[4];
    this.size = t[5];
    this.#internalDate = t[6];
    this.flags = t[7] === '' ? [] : t[7].split(' ');
    this.headerPrefix = t[10];
    this.envelopeWire = t[11];
    this.emailId = t[12];
    this.threadId = t[13];
    this.#envelope = t[8] === 0 ? NOT_READ : t[8];
    this.#bodyStructure = t[9] === 0 ? NOT_READ : t[9];
  }

  /** Made on first use: FETCH FLAGS of 10,000 messages needs no Date objects. */
  get internalDate(): Date {
    if (typeof this.#internalDate === 'number') this.#internalDate = new Date(this.#internalDate);
    return this.#internalDate;
  }

  get envelope(): unknown {
    if (this.#envelope === NOT_READ) throw new Error('message envelope was not read (list omit)');
    if (!(this.#isParsed & 1)) {
      this.#envelope = this.#envelope === null ? null : JSON.parse(this.#envelope as string);
      this.#isParsed |= 1;
    }
    return this.#envelope;
  }

  get bodyStructure(): unknown {
    if (this.#bodyStructure === NOT_READ) throw new Error('message body structure was not read (list omit)');
    if (!(this.#isParsed & 2)) {
      this.#bodyStructure = this.#bodyStructure === null ? null : JSON.parse(this.#bodyStructure as string);
      this.#isParsed |= 2;
    }
    return this.#bodyStructure;
  }
}

/**
 * The next id of a table whose ids must never come back (migration 24): past every id it gave and
 * every row there is.
 */
export function nextId(db: Db, table: 'messages' | 'mailboxes'): number {
  return db
    .prepare(
      `UPDATE id_counters SET last = MAX(last, (SELECT COALESCE(MAX(id), 0) FROM ${table})) + 1 WHERE name = ? RETURNING last`,
    )
    .pluck()
    .get(table) as number;
}

export class Messages implements MessageRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  /** Allocates the next modseq of a mailbox (RFC 7162 §3.1: strictly increasing per mailbox). */
  private nextModseq(mailboxId: number): number {
    const row = this.db
      .prepare('UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
      .get(mailboxId) as { highest_modseq: number } | undefined;
    if (!row) throw new MailError('MAILBOX_NOT_FOUND', `mailbox ${mailboxId} does not exist`);
    return row.highest_modseq;
  }

  append(mailboxId: number, m: NewMessage, emailId?: number): Promise<MessageRecord> {
    return this.exec(() => {
      const modseq = this.nextModseq(mailboxId);
      const { uid } = this.db
        .prepare('UPDATE mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next - 1 AS uid')
        .get(mailboxId) as { uid: number };
      const flags = messageFlags(m.flags); // mail/flags.ts: canonical case, no duplicates, bounded
      const headerPrefix = m.headerPrefix ?? '';
      const envelopeWire = m.envelopeWire ?? null;
      const info = this.db
        .prepare(
          'INSERT INTO messages (id, mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, envelope, body_structure, header_prefix, envelope_wire, email_id, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          nextId(this.db, 'messages'),
          mailboxId,
          uid,
          modseq,
          m.blobHash,
          m.size,
          m.internalDate.getTime(),
          flags.join(' '),
          JSON.stringify(m.envelope ?? null),
          JSON.stringify(m.bodyStructure ?? null),
          headerPrefix,
          envelopeWire,
          emailId ?? null,
          m.threadId ?? null,
        );
      const id = Number(info.lastInsertRowid);
      return {
        blobHash: m.blobHash,
        size: m.size,
        internalDate: m.internalDate,
        flags,
        envelope: m.envelope,
        bodyStructure: m.bodyStructure,
        headerPrefix,
        envelopeWire,
        id,
        emailId: emailId ?? id,
        threadId: m.threadId ?? emailId ?? id,
        mailboxId,
        uid,
        modseq,
      };
    });
  }

  get(mailboxId: number, uid: number): Promise<MessageRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid = ?`)
        .raw()
        .get(mailboxId, uid) as MessageTuple | undefined;
      return row && new StoredRow(row);
    });
  }

  list(
    mailboxId: number,
    range: { fromUid?: number; toUid?: number; envelopeContains?: string; omit?: MessageColumnsOmitted } = {},
  ): Promise<MessageRecord[]> {
    return this.exec(() => {
      const args: Array<number | string> = [mailboxId, range.fromUid ?? 1, range.toUid ?? Number.MAX_SAFE_INTEGER];
      let where = '';
      if (range.envelopeContains !== undefined) {
        // The envelope is stored as JSON: printable ASCII other than " and \ appears in it unescaped.
        if (!/^[\x20-\x7e]*$/.test(range.envelopeContains) || /["\\]/.test(range.envelopeContains))
          throw new MailError(
            'INVALID_INPUT',
            'envelopeContains must be printable ASCII without quotes or backslashes',
          );
        where = " AND (envelope IS NULL OR envelope = 'null' OR instr(lower(envelope), ?) > 0)"; // no stored envelope: the caller reads the message
        args.push(range.envelopeContains.toLowerCase());
      }
      const rows = this.db
        .prepare(
          `SELECT ${messageColumns(range.omit)} FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ?${where} ORDER BY uid`,
        )
        .raw()
        .all(...args) as MessageTuple[];
      return rows.map((t) => new StoredRow(t));
    });
  }

  summaries(mailboxId: number): Promise<MessageSummary[]> {
    return this.exec(() =>
      (
        this.db
          .prepare('SELECT uid, modseq, flags, size, internal_date FROM messages WHERE mailbox_id = ? ORDER BY uid')
          .all(mailboxId) as Array<{ uid: number; modseq: number; flags: string; size: number; internal_date: number }>
      ).map((r) => ({
        uid: r.uid,
        modseq: r.modseq,
        flags: r.flags === '' ? [] : r.flags.split(' '),
        size: r.size,
        internalDate: new Date(r.internal_date),
      })),
    );
  }

  setFlags(
    mailboxId: number,
    uids: number[],
    change: FlagChange,
    flags: string[],
  ): Promise<{ uids: number[]; modseq: number }> {
    return this.exec(() => {
      const select = this.db.prepare('SELECT flags FROM messages WHERE mailbox_id = ? AND uid = ?').pluck();
      const update = this.db.prepare('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      const changed: number[] = [];
      let modseq = 0;
      for (const uid of uids) {
        const current = select.get(mailboxId, uid) as string | undefined;
        if (current === undefined) continue;
        const before = current === '' ? [] : current.split(' ');
        const after = applyFlags(before, change, flags);
        if (after.join(' ') === before.join(' ')) continue;
        if (modseq === 0) modseq = this.nextModseq(mailboxId);
        update.run(after.join(' '), modseq, mailboxId, uid);
        changed.push(uid);
      }
      return { uids: changed, modseq };
    });
  }

  expunge(mailboxId: number, uids: number[]): Promise<{ uids: number[]; modseq: number }> {
    return this.exec(() => {
      const del = this.db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
      const removed = uids.filter((uid) => del.run(mailboxId, uid).changes > 0);
      return { uids: removed, modseq: removed.length ? this.nextModseq(mailboxId) : 0 };
    });
  }
}
