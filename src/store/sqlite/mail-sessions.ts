/** Webmail sessions in SQLite: one row a signed-in browser, removed with its account (the schema's cascade). */
import type { MailSessionRecord, MailSessionRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

interface Row {
  id: string;
  secret_hash: string;
  account_id: number;
  csrf: string;
  created_at: number;
  expires_at: number;
  idle_until: number;
  settings: number;
}

export class MailSessions implements MailSessionRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(s: MailSessionRecord): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          `INSERT INTO mail_sessions (id, secret_hash, account_id, csrf, created_at, expires_at, idle_until, settings)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          s.id,
          s.secretHash,
          s.accountId,
          s.csrf,
          s.createdAt.getTime(),
          s.expiresAt.getTime(),
          s.idleUntil.getTime(),
          s.settings ? 1 : 0,
        );
    });
  }

  get(id: string): Promise<MailSessionRecord | undefined> {
    return this.exec(() => {
      const r = this.db.prepare('SELECT * FROM mail_sessions WHERE id = ?').get(id) as Row | undefined;
      return (
        r && {
          id: r.id,
          secretHash: r.secret_hash,
          accountId: r.account_id,
          csrf: r.csrf,
          createdAt: new Date(r.created_at),
          expiresAt: new Date(r.expires_at),
          idleUntil: new Date(r.idle_until),
          settings: r.settings === 1,
        }
      );
    });
  }

  touch(id: string, idleUntil: Date): Promise<void> {
    return this.exec(() => {
      this.db.prepare('UPDATE mail_sessions SET idle_until = ? WHERE id = ?').run(idleUntil.getTime(), id);
    });
  }

  remove(id: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM mail_sessions WHERE id = ?').run(id).changes > 0);
  }

  removeAccount(accountId: number): Promise<number> {
    return this.exec(() => this.db.prepare('DELETE FROM mail_sessions WHERE account_id = ?').run(accountId).changes);
  }

  removeExpired(now: Date): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare('DELETE FROM mail_sessions WHERE expires_at <= ? OR idle_until <= ?')
          .run(now.getTime(), now.getTime()).changes,
    );
  }
}
