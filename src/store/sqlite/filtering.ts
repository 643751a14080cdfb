/**
 * The content filter's state in SQLite: allow and block lists per domain or account, the quarantine
 * (held messages with their content, until released, deleted or expired) and greylisting's triplets
 * and client networks.
 */
import type {
  FilterListEntry,
  FilterListRepo,
  GreylistRepo,
  GreylistTriplet,
  QuarantinedMessage,
  QuarantineRepo,
} from '../index.js';
import type { Db, Exec } from './engine.js';

export class FilterLists implements FilterListRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  put(e: FilterListEntry): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          'INSERT INTO filter_lists (scope, entry, kind) VALUES (?, ?, ?) ON CONFLICT (scope, entry) DO UPDATE SET kind = excluded.kind',
        )
        .run(e.scope, e.entry, e.kind);
    });
  }

  remove(scope: string, entry: string): Promise<boolean> {
    return this.exec(
      () => this.db.prepare('DELETE FROM filter_lists WHERE scope = ? AND entry = ?').run(scope, entry).changes > 0,
    );
  }

  list(scopes?: readonly string[]): Promise<FilterListEntry[]> {
    return this.exec(() => {
      if (scopes && scopes.length === 0) return [];
      const where = scopes ? `WHERE scope IN (${scopes.map(() => '?').join(',')})` : '';
      return this.db
        .prepare(`SELECT scope, entry, kind FROM filter_lists ${where} ORDER BY scope, entry`)
        .all(...(scopes ?? [])) as FilterListEntry[];
    });
  }
}

interface QuarantineRow {
  id: number;
  qid: string;
  recipient: string;
  account_id: number | null;
  mail_from: string;
  subject: string;
  reason: string;
  score: number | null;
  size: number;
  created_at: number;
  expires_at: number;
}
const COLUMNS =
  'id, qid, recipient, account_id, mail_from, subject, reason, score, length(content) AS size, created_at, expires_at';
const toQuarantined = (r: QuarantineRow): QuarantinedMessage => ({
  id: r.id,
  qid: r.qid,
  recipient: r.recipient,
  accountId: r.account_id,
  mailFrom: r.mail_from,
  subject: r.subject,
  reason: r.reason,
  score: r.score,
  size: r.size,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
});

export class Quarantine implements QuarantineRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  hold(e: Omit<QuarantinedMessage, 'id' | 'size'> & { content: Buffer }): Promise<QuarantinedMessage> {
    return this.exec(() => {
      const domain = e.recipient.slice(e.recipient.lastIndexOf('@') + 1).toLowerCase();
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO quarantine (qid, recipient, recipient_domain, account_id, mail_from, subject, reason, score, content, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          e.qid,
          e.recipient,
          domain,
          e.accountId,
          e.mailFrom,
          e.subject,
          e.reason,
          e.score,
          e.content,
          e.createdAt.getTime(),
          e.expiresAt.getTime(),
        );
      return toQuarantined(
        this.db.prepare(`SELECT ${COLUMNS} FROM quarantine WHERE id = ?`).get(lastInsertRowid) as QuarantineRow,
      );
    });
  }

  get(id: number): Promise<QuarantinedMessage | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`SELECT ${COLUMNS} FROM quarantine WHERE id = ?`).get(id) as
        QuarantineRow | undefined;
      return row && toQuarantined(row);
    });
  }

  content(id: number): Promise<Buffer | undefined> {
    return this.exec(
      () => this.db.prepare('SELECT content FROM quarantine WHERE id = ?').pluck().get(id) as Buffer | undefined,
    );
  }

  list(options: { recipientDomain?: string; limit?: number } = {}): Promise<QuarantinedMessage[]> {
    return this.exec(() => {
      const limit = options.limit ?? 1000;
      const rows = options.recipientDomain
        ? this.db
            .prepare(`SELECT ${COLUMNS} FROM quarantine WHERE recipient_domain = ? ORDER BY id DESC LIMIT ?`)
            .all(options.recipientDomain.toLowerCase(), limit)
        : this.db.prepare(`SELECT ${COLUMNS} FROM quarantine ORDER BY id DESC LIMIT ?`).all(limit);
      return (rows as QuarantineRow[]).map(toQuarantined);
    });
  }

  remove(id: number): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM quarantine WHERE id = ?').run(id).changes > 0);
  }

  expire(now: Date): Promise<number> {
    return this.exec(() => this.db.prepare('DELETE FROM quarantine WHERE expires_at <= ?').run(now.getTime()).changes);
  }
}

export class Greylist implements GreylistRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  triplet(key: string): Promise<GreylistTriplet | undefined> {
    return this.exec(() => {
      const row = this.db.prepare('SELECT first_seen, last_seen, passes FROM greylist WHERE key = ?').get(key) as
        { first_seen: number; last_seen: number; passes: number } | undefined;
      return row && { firstSeen: new Date(row.first_seen), lastSeen: new Date(row.last_seen), passes: row.passes };
    });
  }

  putTriplet(key: string, t: GreylistTriplet): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          `INSERT INTO greylist (key, first_seen, last_seen, passes) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, passes = excluded.passes`,
        )
        .run(key, t.firstSeen.getTime(), t.lastSeen.getTime(), t.passes);
    });
  }

  clientPasses(network: string): Promise<number> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT passes FROM greylist_clients WHERE network = ?').pluck().get(network) as
          number | undefined) ?? 0,
    );
  }

  addClientPass(network: string, now: Date): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          `INSERT INTO greylist_clients (network, passes, last_seen) VALUES (?, 1, ?)
           ON CONFLICT (network) DO UPDATE SET passes = passes + 1, last_seen = excluded.last_seen`,
        )
        .run(network, now.getTime());
    });
  }

  expire(before: Date): Promise<number> {
    return this.exec(() => {
      const t = before.getTime();
      return (
        this.db.prepare('DELETE FROM greylist WHERE last_seen < ?').run(t).changes +
        this.db.prepare('DELETE FROM greylist_clients WHERE last_seen < ?').run(t).changes
      );
    });
  }
}
