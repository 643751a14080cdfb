/**
 * Sieve scripts in SQLite (RFC 5804 storage: names unique per account, at most one active, enforced by
 * a partial unique index) and the record of automatic replies sent (RFC 5230 §4.2).
 */
import { MailError } from '../../lib/errors.js';
import type { SieveScriptRecord, SieveScriptRepo } from '../index.js';
import { isUniqueViolation, type Db, type Exec } from './engine.js';

interface SieveRow {
  rowid: number;
  name: string;
  content: string;
  active: number;
  updated_at: number;
}
const toSieve = (r: SieveRow): SieveScriptRecord => ({
  id: r.rowid,
  name: r.name,
  content: r.content,
  isActive: r.active === 1,
  updatedAt: new Date(r.updated_at),
});

export class SieveScripts implements SieveScriptRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  list(accountId: number): Promise<Array<Omit<SieveScriptRecord, 'content'> & { size: number }>> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            'SELECT rowid, name, length(CAST(content AS BLOB)) AS size, active, updated_at FROM sieve_scripts WHERE account_id = ? ORDER BY name',
          )
          .all(accountId) as Array<Omit<SieveRow, 'content'> & { size: number }>
      ).map((r) => ({
        id: r.rowid,
        name: r.name,
        size: r.size,
        isActive: r.active === 1,
        updatedAt: new Date(r.updated_at),
      })),
    );
  }

  get(accountId: number, name: string): Promise<SieveScriptRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare('SELECT rowid, name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND name = ?')
        .get(accountId, name) as SieveRow | undefined;
      return row && toSieve(row);
    });
  }

  active(accountId: number): Promise<SieveScriptRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare(
          'SELECT rowid, name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND active = 1',
        )
        .get(accountId) as SieveRow | undefined;
      return row && toSieve(row);
    });
  }

  put(accountId: number, name: string, content: string): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          'INSERT INTO sieve_scripts (account_id, name, content, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at',
        )
        .run(accountId, name, content, Date.now());
    });
  }

  remove(accountId: number, name: string): Promise<boolean> {
    return this.exec(() => {
      const active = this.db
        .prepare('SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?')
        .pluck()
        .get(accountId, name) as number | undefined;
      if (active === undefined) throw new MailError('NOT_FOUND', `no script named ${name}`);
      if (active === 1) return false;
      this.db.prepare('DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?').run(accountId, name);
      return true;
    });
  }

  rename(accountId: number, from: string, to: string): Promise<void> {
    return this.exec(() => {
      try {
        const changed = this.db
          .prepare('UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE account_id = ? AND name = ?')
          .run(to, Date.now(), accountId, from).changes;
        if (changed === 0) throw new MailError('NOT_FOUND', `no script named ${from}`);
      } catch (err) {
        if (isUniqueViolation(err)) throw new MailError('ALREADY_EXISTS', `a script named ${to} already exists`);
        throw err;
      }
    });
  }

  setActive(accountId: number, name: string | null): Promise<void> {
    return this.exec(() => {
      if (
        name !== null &&
        this.db
          .prepare('SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?')
          .pluck()
          .get(accountId, name) === undefined
      ) {
        throw new MailError('NOT_FOUND', `no script named ${name}`);
      }
      this.db.transaction(() => {
        this.db.prepare('UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1').run(accountId);
        if (name !== null)
          this.db
            .prepare('UPDATE sieve_scripts SET active = 1, updated_at = ? WHERE account_id = ? AND name = ?')
            .run(Date.now(), accountId, name);
      })();
    });
  }

  claimResponse(accountId: number, key: string, expiresAt: Date, now = new Date()): Promise<boolean> {
    return this.exec(() => {
      this.db
        .prepare('DELETE FROM sieve_responses WHERE account_id = ? AND expires_at <= ?')
        .run(accountId, now.getTime());
      return (
        this.db
          .prepare('INSERT INTO sieve_responses (account_id, key, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
          .run(accountId, key, expiresAt.getTime()).changes > 0
      );
    });
  }
}
