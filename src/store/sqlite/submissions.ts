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
});

export class Submissions implements SubmissionRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(s: Omit<SubmissionRecord, 'id'>): Promise<SubmissionRecord> {
    return this.exec(() => {
      const info = this.db
        .prepare(
          'INSERT INTO submissions (account_id, email_id, thread_id, identity_id, envelope, send_at, qid, delivery_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
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
        );
      return { ...s, id: Number(info.lastInsertRowid) };
    });
  }

  list(accountId: number, ids?: number[]): Promise<SubmissionRecord[]> {
    return this.exec(() => {
      const rows = this.db
        .prepare('SELECT * FROM submissions WHERE account_id = ? ORDER BY id')
        .all(accountId) as Row[];
      const wanted = ids ? new Set(ids) : undefined;
      return rows.filter((r) => !wanted || wanted.has(r.id)).map(toRecord);
    });
  }

  last(accountId: number): Promise<number> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT MAX(id) FROM submissions WHERE account_id = ?').pluck().get(accountId) as
          number | null) ?? 0,
    );
  }

  remove(accountId: number, ids: number[]): Promise<number[]> {
    return this.exec(() => {
      const del = this.db.prepare('DELETE FROM submissions WHERE account_id = ? AND id = ?');
      return ids.filter((id) => del.run(accountId, id).changes > 0);
    });
  }
}
