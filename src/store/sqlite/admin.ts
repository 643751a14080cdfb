/**
 * Administration's tables in SQLite: admins and the domains granted to them, API tokens (the secret
 * half kept as a hash only), the audit log and accounts' app passwords (kept as a hash only). Removing an admin removes their grants and tokens;
 * removing a domain removes the grants (the schema's cascades).
 */
import { MailError } from '../../lib/errors.js';
import type {
  AdminRecord,
  AdminRepo,
  AdminSessionRecord,
  AdminSessionRepo,
  ApiTokenRecord,
  ApiTokenRepo,
  AppPasswordRecord,
  AppPasswordRepo,
  AuditEntry,
  AuditRepo,
  MetricPoint,
  MetricsRepo,
} from '../index.js';
import { isUniqueViolation, type Db, type Exec } from './engine.js';

interface AdminRow {
  address: string;
  password_hash: string;
  is_super: number;
  domains: string | null;
  totp_secret: string | null;
  totp_pending: string | null;
  created_at: number;
}

const ADMIN_SELECT = `SELECT a.address, a.password_hash, a.is_super, a.totp_secret, a.totp_pending, a.created_at,
  (SELECT json_group_array(d.name) FROM admin_domains g JOIN domains d ON d.id = g.domain_id
   WHERE g.admin = a.address ORDER BY d.name) AS domains
  FROM admins a`;

const toAdmin = (r: AdminRow): AdminRecord => ({
  address: r.address,
  passwordHash: r.password_hash,
  isSuper: r.is_super === 1,
  domains: (JSON.parse(r.domains ?? '[]') as string[]).sort(),
  totpSecret: r.totp_secret,
  totpPending: r.totp_pending,
  createdAt: new Date(r.created_at),
});

export class Admins implements AdminRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(admin: { address: string; passwordHash: string; isSuper: boolean; domains: string[] }): Promise<AdminRecord> {
    return this.exec(() =>
      this.db.transaction(() => {
        try {
          this.db
            .prepare('INSERT INTO admins (address, password_hash, is_super, created_at) VALUES (?, ?, ?, ?)')
            .run(admin.address, admin.passwordHash, admin.isSuper ? 1 : 0, Date.now());
        } catch (err) {
          if (isUniqueViolation(err)) throw new MailError('ALREADY_EXISTS', `admin ${admin.address} already exists`);
          throw err;
        }
        const domainId = this.db.prepare('SELECT id FROM domains WHERE name = ?').pluck();
        const grant = this.db.prepare('INSERT OR IGNORE INTO admin_domains (admin, domain_id) VALUES (?, ?)');
        for (const name of admin.domains) {
          const id = domainId.get(name) as number | undefined;
          if (id === undefined) throw new MailError('DOMAIN_NOT_FOUND', `domain ${name} is not hosted`);
          grant.run(admin.address, id);
        }
        return toAdmin(this.db.prepare(`${ADMIN_SELECT} WHERE a.address = ?`).get(admin.address) as AdminRow);
      })(),
    );
  }

  get(address: string): Promise<AdminRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${ADMIN_SELECT} WHERE a.address = ?`).get(address) as AdminRow | undefined;
      return row && toAdmin(row);
    });
  }

  list(): Promise<AdminRecord[]> {
    return this.exec(() => (this.db.prepare(`${ADMIN_SELECT} ORDER BY a.address`).all() as AdminRow[]).map(toAdmin));
  }

  remove(address: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM admins WHERE address = ?').run(address).changes > 0);
  }

  setPassword(address: string, passwordHash: string): Promise<boolean> {
    return this.exec(
      () =>
        this.db.prepare('UPDATE admins SET password_hash = ? WHERE address = ?').run(passwordHash, address).changes > 0,
    );
  }

  setTotp(address: string, totp: { secret: string | null; pending: string | null }): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare('UPDATE admins SET totp_secret = ?, totp_pending = ? WHERE address = ?')
          .run(totp.secret, totp.pending, address).changes > 0,
    );
  }
}

interface SessionRow {
  id: string;
  secret_hash: string;
  admin: string;
  csrf: string;
  created_at: number;
  expires_at: number;
}

export class AdminSessions implements AdminSessionRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(s: AdminSessionRecord): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          'INSERT INTO admin_sessions (id, secret_hash, admin, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(s.id, s.secretHash, s.admin, s.csrf, s.createdAt.getTime(), s.expiresAt.getTime());
    });
  }

  get(id: string): Promise<AdminSessionRecord | undefined> {
    return this.exec(() => {
      const r = this.db.prepare('SELECT * FROM admin_sessions WHERE id = ?').get(id) as SessionRow | undefined;
      return (
        r && {
          id: r.id,
          secretHash: r.secret_hash,
          admin: r.admin,
          csrf: r.csrf,
          createdAt: new Date(r.created_at),
          expiresAt: new Date(r.expires_at),
        }
      );
    });
  }

  remove(id: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM admin_sessions WHERE id = ?').run(id).changes > 0);
  }

  removeExpired(now: Date): Promise<number> {
    return this.exec(
      () => this.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(now.getTime()).changes,
    );
  }
}

interface TokenRow {
  id: string;
  secret_hash: string;
  admin: string;
  name: string;
  scopes: string;
  expires_at: number | null;
  created_at: number;
}

const toToken = (r: TokenRow): ApiTokenRecord => ({
  id: r.id,
  secretHash: r.secret_hash,
  admin: r.admin,
  name: r.name,
  scopes: JSON.parse(r.scopes) as string[],
  expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
  createdAt: new Date(r.created_at),
});

export class ApiTokens implements ApiTokenRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(t: ApiTokenRecord): Promise<void> {
    return this.exec(() => {
      this.db
        .prepare(
          'INSERT INTO api_tokens (id, secret_hash, admin, name, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          t.id,
          t.secretHash,
          t.admin,
          t.name,
          JSON.stringify(t.scopes),
          t.expiresAt?.getTime() ?? null,
          t.createdAt.getTime(),
        );
    });
  }

  get(id: string): Promise<ApiTokenRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined;
      return row && toToken(row);
    });
  }

  list(admin: string): Promise<ApiTokenRecord[]> {
    return this.exec(() =>
      (
        this.db.prepare('SELECT * FROM api_tokens WHERE admin = ? ORDER BY created_at, id').all(admin) as TokenRow[]
      ).map(toToken),
    );
  }

  remove(id: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes > 0);
  }
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  via: string;
  remote: string | null;
  action: string;
  target: string;
  domain: string | null;
  before: string | null;
  after: string | null;
}

const toEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: new Date(r.at),
  actor: r.actor,
  via: r.via,
  remote: r.remote,
  action: r.action,
  target: r.target,
  domain: r.domain,
  before: r.before === null ? null : JSON.parse(r.before),
  after: r.after === null ? null : JSON.parse(r.after),
});

export class Audit implements AuditRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(e: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    return this.exec(() => {
      const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
      const id = this.db
        .prepare(
          'INSERT INTO audit_log (at, actor, via, remote, action, target, domain, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          Date.now(),
          e.actor,
          e.via,
          e.remote,
          e.action,
          e.target,
          e.domain,
          json(e.before),
          json(e.after),
        ).lastInsertRowid;
      return toEntry(this.db.prepare('SELECT * FROM audit_log WHERE id = ?').get(id) as AuditRow);
    });
  }

  list(query: { domains?: string[]; before?: number; limit: number }): Promise<AuditEntry[]> {
    return this.exec(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.domains) {
        where.push('domain IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(query.domains));
      }
      if (query.before !== undefined) {
        where.push('id < ?');
        args.push(query.before);
      }
      const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return (this.db.prepare(sql).all(...args, query.limit) as AuditRow[]).map(toEntry);
    });
  }
}

interface AppPasswordRow {
  id: number;
  account_id: number;
  name: string;
  secret_hash: string;
  created_at: number;
}

const toAppPassword = (r: AppPasswordRow): AppPasswordRecord => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  createdAt: new Date(r.created_at),
});

export class AppPasswords implements AppPasswordRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(accountId: number, name: string, secretHash: string): Promise<AppPasswordRecord> {
    return this.exec(() => {
      const id = this.db
        .prepare('INSERT INTO app_passwords (account_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(accountId, name, secretHash, Date.now()).lastInsertRowid;
      return toAppPassword(this.db.prepare('SELECT * FROM app_passwords WHERE id = ?').get(id) as AppPasswordRow);
    });
  }

  list(accountId: number): Promise<AppPasswordRecord[]> {
    return this.exec(() =>
      (
        this.db
          .prepare('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY id')
          .all(accountId) as AppPasswordRow[]
      ).map(toAppPassword),
    );
  }

  remove(accountId: number, id: number): Promise<boolean> {
    return this.exec(
      () => this.db.prepare('DELETE FROM app_passwords WHERE account_id = ? AND id = ?').run(accountId, id).changes > 0,
    );
  }

  find(accountId: number, secretHash: string): Promise<AppPasswordRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare('SELECT * FROM app_passwords WHERE account_id = ? AND secret_hash = ?')
        .get(accountId, secretHash) as AppPasswordRow | undefined;
      return row && toAppPassword(row);
    });
  }

  byId(id: number): Promise<(AppPasswordRecord & { secretHash: string }) | undefined> {
    return this.exec(() => {
      const row = this.db.prepare('SELECT * FROM app_passwords WHERE id = ?').get(id) as AppPasswordRow | undefined;
      return row && { ...toAppPassword(row), secretHash: row.secret_hash };
    });
  }
}

export class Metrics implements MetricsRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  record(points: { add: MetricPoint[]; set: MetricPoint[] }): Promise<void> {
    return this.exec(() =>
      this.db.transaction(() => {
        const add = this.db.prepare(
          'INSERT INTO metrics_hourly (hour, name, value) VALUES (?, ?, ?) ON CONFLICT (hour, name) DO UPDATE SET value = value + excluded.value',
        );
        const set = this.db.prepare(
          'INSERT INTO metrics_hourly (hour, name, value) VALUES (?, ?, ?) ON CONFLICT (hour, name) DO UPDATE SET value = excluded.value',
        );
        for (const p of points.add) add.run(p.hour, p.name, p.value);
        for (const p of points.set) set.run(p.hour, p.name, p.value);
      })(),
    );
  }

  range(fromHour: number, toHour: number): Promise<MetricPoint[]> {
    return this.exec(
      () =>
        this.db
          .prepare('SELECT hour, name, value FROM metrics_hourly WHERE hour BETWEEN ? AND ? ORDER BY hour, name')
          .all(fromHour, toHour) as MetricPoint[],
    );
  }

  prune(beforeHour: number): Promise<number> {
    return this.exec(() => this.db.prepare('DELETE FROM metrics_hourly WHERE hour < ?').run(beforeHour).changes);
  }
}
