/**
 * The outbound queue in SQLite: entries with their recipients, leases that hand due recipients to
 * one worker at a time (one atomic UPDATE … RETURNING), attempt outcomes, and TLS-RPT results.
 */
import type { NewQueueEntry, QueueEntry, QueueOutcome, QueueRecipient, QueueRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

interface QueueRow {
  id: number;
  qid: string;
  blob_hash: string;
  sender: string;
  size: number;
  auth_user: string | null;
  envid: string | null;
  ret: string | null;
  held: number;
  created_at: number;
}
interface QueueRecipientRow {
  id: number;
  queue_id: number;
  recipient: string;
  status: QueueRecipient['status'];
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  remote_mta: string | null;
  notify: string | null;
  orcpt: string | null;
  delay_notified: number;
}

const toRecipient = (r: QueueRecipientRow): QueueRecipient => ({
  id: r.id,
  recipient: r.recipient,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: new Date(r.next_attempt_at),
  lastError: r.last_error,
  remoteMta: r.remote_mta,
  notify: r.notify,
  orcpt: r.orcpt,
  delayNotified: r.delay_notified === 1,
});

export class Queue implements QueueRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(entry: NewQueueEntry): Promise<QueueEntry> {
    return this.exec(() => {
      const now = Date.now();
      this.db.transaction(() => {
        const info = this.db
          .prepare(
            'INSERT INTO queue (qid, blob_hash, sender, size, auth_user, envid, ret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(entry.qid, entry.blobHash, entry.sender, entry.size, entry.authUser, entry.envid, entry.ret, now);
        const insert = this.db.prepare(
          'INSERT INTO queue_recipients (queue_id, recipient, domain, next_attempt_at, notify, orcpt) VALUES (?, ?, ?, ?, ?, ?)',
        );
        for (const r of entry.recipients)
          insert.run(
            info.lastInsertRowid,
            r.recipient,
            r.recipient.slice(r.recipient.lastIndexOf('@') + 1),
            now,
            r.notify,
            r.orcpt,
          );
      })();
      return this.read(entry.qid)!;
    });
  }

  private read(qid: string): QueueEntry | undefined {
    const row = this.db.prepare('SELECT * FROM queue WHERE qid = ?').get(qid) as QueueRow | undefined;
    return (
      row &&
      this.toEntry(
        row,
        this.db
          .prepare('SELECT * FROM queue_recipients WHERE queue_id = ? ORDER BY id')
          .all(row.id) as QueueRecipientRow[],
      )
    );
  }

  private toEntry(row: QueueRow, recipients: QueueRecipientRow[]): QueueEntry {
    return {
      qid: row.qid,
      blobHash: row.blob_hash,
      sender: row.sender,
      size: row.size,
      authUser: row.auth_user,
      envid: row.envid,
      ret: row.ret,
      isHeld: row.held === 1,
      createdAt: new Date(row.created_at),
      recipients: recipients.map(toRecipient),
    };
  }

  get(qid: string): Promise<QueueEntry | undefined> {
    return this.exec(() => this.read(qid));
  }

  list(): Promise<QueueEntry[]> {
    return this.exec(() => {
      const byEntry = new Map<number, QueueRecipientRow[]>();
      for (const r of this.db.prepare('SELECT * FROM queue_recipients ORDER BY id').all() as QueueRecipientRow[]) {
        let list = byEntry.get(r.queue_id);
        if (!list) byEntry.set(r.queue_id, (list = []));
        list.push(r);
      }
      return (this.db.prepare('SELECT * FROM queue ORDER BY created_at, id').all() as QueueRow[]).map((r) =>
        this.toEntry(r, byEntry.get(r.id) ?? []),
      );
    });
  }

  remove(qid: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM queue WHERE qid = ?').run(qid).changes > 0);
  }

  claim(owner: string, options: { now: Date; leaseMs: number; limit: number }): Promise<QueueEntry[]> {
    return this.exec(() => {
      const now = options.now.getTime();
      // One statement: atomic against every other process sharing the database.
      const claimed = this.db
        .prepare(
          `UPDATE queue_recipients SET lease_owner = ?, lease_until = ?
           WHERE id IN (SELECT r.id FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
                        WHERE r.status = 'pending' AND r.next_attempt_at <= ? AND r.lease_until < ? AND q.held = 0
                        ORDER BY r.next_attempt_at, r.id LIMIT ?)
           RETURNING *`,
        )
        .all(owner, now + options.leaseMs, now, now, options.limit) as QueueRecipientRow[];
      const byEntry = new Map<number, QueueRecipientRow[]>();
      for (const r of claimed) {
        let list = byEntry.get(r.queue_id);
        if (!list) byEntry.set(r.queue_id, (list = []));
        list.push(r);
      }
      const entry = this.db.prepare('SELECT * FROM queue WHERE id = ?');
      return [...byEntry].map(([id, rows]) =>
        this.toEntry(
          entry.get(id) as QueueRow,
          rows.sort((a, b) => a.id - b.id),
        ),
      );
    });
  }

  renewLeases(owner: string, until: Date): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare("UPDATE queue_recipients SET lease_until = ? WHERE lease_owner = ? AND status = 'pending'")
          .run(until.getTime(), owner).changes,
    );
  }

  releaseLeases(owner: string): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare(
            "UPDATE queue_recipients SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ? AND status = 'pending'",
          )
          .run(owner).changes,
    );
  }

  record(outcomes: QueueOutcome[]): Promise<void> {
    return this.exec(() => {
      const now = Date.now();
      const update = this.db.prepare(
        `UPDATE queue_recipients SET status = ?, attempts = attempts + 1, last_error = ?, remote_mta = ?, next_attempt_at = ?,
           done_at = ?, lease_owner = NULL, lease_until = 0 WHERE id = ? AND status = 'pending'`,
      );
      this.db.transaction(() => {
        for (const o of outcomes) {
          update.run(
            o.status,
            o.error,
            o.remoteMta,
            o.nextAttemptAt?.getTime() ?? now,
            o.status === 'pending' ? null : now,
            o.id,
          );
        }
      })();
    });
  }

  markDelayNotified(ids: number[]): Promise<void> {
    return this.exec(() => {
      const update = this.db.prepare('UPDATE queue_recipients SET delay_notified = 1 WHERE id = ?');
      this.db.transaction(() => ids.forEach((id) => update.run(id)))();
    });
  }

  retry(qid?: string): Promise<number> {
    return this.exec(() => {
      const now = Date.now();
      if (qid === undefined)
        return this.db
          .prepare("UPDATE queue_recipients SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?")
          .run(now, now).changes;
      return this.db
        .prepare(
          "UPDATE queue_recipients SET next_attempt_at = ? WHERE status = 'pending' AND queue_id = (SELECT id FROM queue WHERE qid = ?)",
        )
        .run(now, qid).changes;
    });
  }

  setHeld(qid: string, held: boolean): Promise<boolean> {
    return this.exec(
      () => this.db.prepare('UPDATE queue SET held = ? WHERE qid = ?').run(held ? 1 : 0, qid).changes > 0,
    );
  }

  removeIfDone(qid: string): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare(
            "DELETE FROM queue WHERE qid = ? AND NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = queue.id AND r.status = 'pending')",
          )
          .run(qid).changes > 0,
    );
  }

  removeAllDone(): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare(
            "DELETE FROM queue WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = queue.id AND r.status = 'pending')",
          )
          .run().changes,
    );
  }

  recordTls(
    results: Array<{ policyDomain: string; policyType: string; mxHost: string; result: string }>,
  ): Promise<void> {
    return this.exec(() => {
      const day = new Date().toISOString().slice(0, 10);
      const upsert = this.db.prepare(
        `INSERT INTO tls_results (day, policy_domain, policy_type, mx_host, result, count) VALUES (?, ?, ?, ?, ?, 1)
         ON CONFLICT (day, policy_domain, policy_type, mx_host, result) DO UPDATE SET count = count + 1`,
      );
      this.db.transaction(() =>
        results.forEach((r) => upsert.run(day, r.policyDomain, r.policyType, r.mxHost, r.result)),
      )();
    });
  }

  tlsResults(
    day: string,
  ): Promise<Array<{ policyDomain: string; policyType: string; mxHost: string; result: string; count: number }>> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            'SELECT policy_domain, policy_type, mx_host, result, count FROM tls_results WHERE day = ? ORDER BY policy_domain, mx_host',
          )
          .all(day) as Array<{
          policy_domain: string;
          policy_type: string;
          mx_host: string;
          result: string;
          count: number;
        }>
      ).map((r) => ({
        policyDomain: r.policy_domain,
        policyType: r.policy_type,
        mxHost: r.mx_host,
        result: r.result,
        count: r.count,
      })),
    );
  }
}
