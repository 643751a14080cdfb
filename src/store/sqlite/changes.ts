/** The account change log in SQLite: rows written by the triggers of migrations 18 and 27, read and pruned here. */
import type { ChangeLogRepo, ChangeRecord } from '../index.js';
import type { Db, Exec } from './engine.js';

interface Row {
  seq: number;
  kind: ChangeRecord['kind'];
  change: ChangeRecord['change'];
  object_id: number;
  mailbox_id: number;
  uid: number | null;
  at: number;
  thread_id: number | null;
}

export class ChangeLog implements ChangeLogRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  position(accountId: number): Promise<{ seq: number; keptFrom: number }> {
    return this.exec(() => {
      const seq = (this.db.prepare('SELECT change_seq FROM accounts WHERE id = ?').pluck().get(accountId) ??
        0) as number;
      const oldest = this.db.prepare('SELECT MIN(seq) FROM changes WHERE account_id = ?').pluck().get(accountId) as
        number | null;
      // With nothing kept, only the current position itself can be asked about.
      return { seq, keptFrom: oldest === null ? seq : oldest - 1 };
    });
  }

  since(accountId: number, seq: number, limit: number): Promise<ChangeRecord[]> {
    return this.exec(() =>
      (
        this.db
          .prepare('SELECT * FROM changes WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?')
          .all(accountId, seq, limit) as Row[]
      ).map((r) => ({
        seq: r.seq,
        kind: r.kind,
        change: r.change,
        objectId: r.object_id,
        mailboxId: r.mailbox_id,
        uid: r.uid,
        at: new Date(r.at),
        threadId: r.thread_id,
      })),
    );
  }

  prune(before: Date): Promise<number> {
    return this.exec(() => this.db.prepare('DELETE FROM changes WHERE at < ?').run(before.getTime()).changes);
  }
}
