/** JMAP email submissions in SQLite (migration 21). */
import type { SubmissionRecord, SubmissionRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

interface Row {
  id: number;
  account_id: number;
  email_id: number;
  thread_id: number;
  identity_id: string;
  envelope: string;
  send_at: number;
  qid: string;
  delivery_status: string;
  undo_status: SubmissionRecord['undoStatus'];
  client_ip: string;
}

const toRecord = (r: Row): SubmissionRecord => ({
  id: r.id,
  accountId: r.account_id,
  emailId: r.email_id,
  threadId: r.thread_id,
  identityId: r.identity_id,
  envelope: JSON.parse(r.envelope) as SubmissionRecord['envelope'],
  sendAt: new Date(r.send_at),
  qid: r.qid,
  deliveryStatus: JSON.parse(r.delivery_status) as SubmissionRecord['deliveryStatus'],
  undoStatus: r.undo_status,
  clientIp: r.client_ip,
});

/** Every column but the content. */
const COLUMNS =
  'id, account_id, email_id, thread_id, identity_id, envelope, send_at, qid, delivery_status, undo_status, client_ip';

/** The account's next change number. */
const NEXT_SEQ = '(SELECT COALESCE(MAX(changed_seq), 0) + 1 FROM submissions WHERE account_id = ?)';

export class Submissions implements SubmissionRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(s: Omit<SubmissionRecord, 'id'>, content?: Buffer): Promise<SubmissionRecord> {
    return this.exec(() => {
      const info = this.db
        .prepare(
          `INSERT INTO submissions (account_id, email_id, thread_id, identity_id, envelope, send_at, qid, delivery_status, undo_status, client_ip, content, created_seq, changed_seq)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${NEXT_SEQ}, ${NEXT_SEQ})`,
        )
        .run(
          s.accountId,
          s.emailId,
          s.threadId,
          s.identityId,
          JSON.stringify(s.envelope),
          s.sendAt.getTime(),
          s.qid,
          JSON.stringify(s.deliveryStatus),
          s.undoStatus,
          s.clientIp,
          content ?? null,
          s.accountId,
          s.accountId,
        );
      return { ...s, id: Number(info.lastInsertRowid) };
    });
  }

  list(accountId: number, ids?: number[]): Promise<SubmissionRecord[]> {
    return this.exec(() => {
      const rows = this.db
        .prepare(`SELECT ${COLUMNS} FROM submissions WHERE account_id = ? ORDER BY id`)
        .all(accountId) as Row[];
      const wanted = ids ? new Set(ids) : undefined;
      return rows.filter((r) => !wanted || wanted.has(r.id)).map(toRecord);
    });
  }

  seq(accountId: number): Promise<number> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT MAX(changed_seq) FROM submissions WHERE account_id = ?').pluck().get(accountId) as
          number | null) ?? 0,
    );
  }

  changedSince(accountId: number, seq: number): Promise<Array<{ id: number; created: boolean; seq: number }>> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            'SELECT id, created_seq > ? AS created, changed_seq AS seq FROM submissions WHERE account_id = ? AND changed_seq > ? ORDER BY changed_seq',
          )
          .all(seq, accountId, seq) as Array<{ id: number; created: number; seq: number }>
      ).map((r) => ({ id: r.id, created: r.created === 1, seq: r.seq })),
    );
  }

  due(now: Date, limit: number): Promise<SubmissionRecord[]> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            "SELECT id, account_id, email_id, thread_id, identity_id, envelope, send_at, qid, delivery_status, undo_status, client_ip FROM submissions WHERE undo_status = 'pending' AND send_at <= ? ORDER BY send_at, id LIMIT ?",
          )
          .all(now.getTime(), limit) as Row[]
      ).map(toRecord),
    );
  }

  content(id: number): Promise<Buffer | undefined> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT content FROM submissions WHERE id = ?').pluck().get(id) as Buffer | null) ?? undefined,
    );
  }

  claim(id: number): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare("UPDATE submissions SET undo_status = 'sending' WHERE id = ? AND undo_status = 'pending'")
          .run(id).changes > 0,
    );
  }

  retry(id: number, at: Date): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare("UPDATE submissions SET undo_status = 'pending', send_at = ? WHERE id = ? AND undo_status = 'sending'")
        .run(at.getTime(), id);
    });
  }

  unclaimAll(): Promise<number> {
    return this.exec(
      () =>
        this.db.prepare("UPDATE submissions SET undo_status = 'pending' WHERE undo_status = 'sending'").run().changes,
    );
  }

  finish(id: number, outcome: { qid: string; deliveryStatus: SubmissionRecord['deliveryStatus'] }): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          `UPDATE submissions SET undo_status = 'final', qid = ?, delivery_status = ?, content = NULL,
             changed_seq = (SELECT MAX(changed_seq) + 1 FROM submissions s WHERE s.account_id = submissions.account_id)
           WHERE id = ? AND undo_status = 'sending'`,
        )
        .run(outcome.qid, JSON.stringify(outcome.deliveryStatus), id);
    });
  }

  cancel(accountId: number, id: number): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare(
            `UPDATE submissions SET undo_status = 'canceled', content = NULL,
               changed_seq = (SELECT MAX(changed_seq) + 1 FROM submissions s WHERE s.account_id = submissions.account_id)
             WHERE account_id = ? AND id = ? AND undo_status = 'pending'`,
          )
          .run(accountId, id).changes > 0,
    );
  }

  remove(accountId: number, ids: number[]): Promise<number[]> {
    return this.exec(() => {
      const del = this.db.prepare('DELETE FROM submissions WHERE account_id = ? AND id = ?');
      return ids.filter((id) => del.run(accountId, id).changes > 0);
    });
  }
}
