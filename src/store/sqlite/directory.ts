/**
 * The directory's tables in SQLite: hosted domains and domain aliases, accounts, aliases (catch-alls
 * included) and DKIM key records. Uniqueness and cascades are the schema's (migrations.ts); a
 * duplicate becomes ALREADY_EXISTS here.
 */
import { MailError } from '../../lib/errors.js';
import type {
  AccountRecord,
  AccountRepo,
  AliasRecord,
  AliasRepo,
  DkimKeyRecord,
  DkimKeyRepo,
  DkimStatus,
  DomainLimits,
  DomainRecord,
  DomainRepo,
} from '../index.js';
import { isUniqueViolation, type Db, type Exec } from './engine.js';

interface DomainRow {
  id: number;
  name: string;
  alias_of_name: string | null;
  max_accounts: number;
  max_aliases: number;
  max_quota_bytes: number;
  default_quota_bytes: number;
  created_at: number;
}
const DOMAIN_SELECT = `SELECT d.id, d.name, t.name AS alias_of_name, d.max_accounts, d.max_aliases, d.max_quota_bytes,
  d.default_quota_bytes, d.created_at FROM domains d LEFT JOIN domains t ON t.id = d.alias_of`;
const toDomain = (r: DomainRow): DomainRecord => ({
  id: r.id,
  name: r.name,
  aliasOf: r.alias_of_name,
  limits: {
    maxAccounts: r.max_accounts,
    maxAliases: r.max_aliases,
    maxQuotaBytes: r.max_quota_bytes,
    defaultQuotaBytes: r.default_quota_bytes,
  },
  createdAt: new Date(r.created_at),
});

export class Domains implements DomainRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(name: string, options: { aliasOf?: string } = {}): Promise<DomainRecord> {
    return this.exec(() => {
      let aliasOf: number | null = null;
      if (options.aliasOf !== undefined) {
        const target = this.db.prepare('SELECT id, alias_of FROM domains WHERE name = ?').get(options.aliasOf) as
          { id: number; alias_of: number | null } | undefined;
        if (!target) throw new MailError('DOMAIN_NOT_FOUND', `domain ${options.aliasOf} is not hosted`);
        if (target.alias_of !== null)
          throw new MailError(
            'INVALID_INPUT',
            `${options.aliasOf} is itself a domain alias; point to the domain it aliases`,
          );
        aliasOf = target.id;
      }
      try {
        this.db
          .prepare('INSERT INTO domains (name, alias_of, created_at) VALUES (?, ?, ?)')
          .run(name, aliasOf, Date.now());
      } catch (err) {
        if (isUniqueViolation(err)) throw new MailError('ALREADY_EXISTS', `domain ${name} already exists`);
        throw err;
      }
      return toDomain(this.db.prepare(`${DOMAIN_SELECT} WHERE d.name = ?`).get(name) as DomainRow);
    });
  }

  get(name: string): Promise<DomainRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${DOMAIN_SELECT} WHERE d.name = ?`).get(name) as DomainRow | undefined;
      return row && toDomain(row);
    });
  }

  list(): Promise<DomainRecord[]> {
    return this.exec(() => (this.db.prepare(`${DOMAIN_SELECT} ORDER BY d.name`).all() as DomainRow[]).map(toDomain));
  }

  remove(name: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM domains WHERE name = ?').run(name).changes > 0);
  }

  accountCount(name: string): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare('SELECT COUNT(*) FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?')
          .pluck()
          .get(name) as number,
    );
  }

  aliasCount(name: string): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare('SELECT COUNT(DISTINCT source) FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?')
          .pluck()
          .get(name) as number,
    );
  }

  quotaTotal(name: string): Promise<number> {
    return this.exec(
      () =>
        this.db
          .prepare(
            'SELECT COALESCE(SUM(a.quota_bytes), 0) FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ?',
          )
          .pluck()
          .get(name) as number,
    );
  }

  setLimits(name: string, limits: DomainLimits): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare(
            'UPDATE domains SET max_accounts = ?, max_aliases = ?, max_quota_bytes = ?, default_quota_bytes = ? WHERE name = ?',
          )
          .run(limits.maxAccounts, limits.maxAliases, limits.maxQuotaBytes, limits.defaultQuotaBytes, name).changes > 0,
    );
  }
}

interface AccountRow {
  id: number;
  address: string;
  local: string;
  domain: string;
  password_hash: string;
  quota_bytes: number;
  used_bytes: number;
  enabled: number;
  created_at: number;
}
const ACCOUNT_SELECT =
  'SELECT a.id, a.address, a.local, d.name AS domain, a.password_hash, a.quota_bytes, a.used_bytes, a.enabled, a.created_at FROM accounts a JOIN domains d ON d.id = a.domain_id';
const toAccount = (r: AccountRow): AccountRecord => ({
  id: r.id,
  address: r.address,
  local: r.local,
  domain: r.domain,
  passwordHash: r.password_hash,
  quotaBytes: r.quota_bytes,
  usedBytes: r.used_bytes,
  isEnabled: r.enabled === 1,
  createdAt: new Date(r.created_at),
});

export class Accounts implements AccountRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(account: { address: string; passwordHash: string; quotaBytes: number }): Promise<AccountRecord> {
    return this.exec(() => {
      const at = account.address.lastIndexOf('@');
      const local = account.address.slice(0, at);
      const domainName = account.address.slice(at + 1);
      const domain = this.db.prepare('SELECT id, alias_of FROM domains WHERE name = ?').get(domainName) as
        { id: number; alias_of: number | null } | undefined;
      if (!domain)
        throw new MailError(
          'DOMAIN_NOT_FOUND',
          `domain ${domainName} is not hosted; add it first with "postern domain add ${domainName}"`,
        );
      if (domain.alias_of !== null)
        throw new MailError(
          'INVALID_INPUT',
          `${domainName} is a domain alias; create the account in the domain it aliases`,
        );
      try {
        this.db
          .prepare(
            'INSERT INTO accounts (domain_id, local, address, password_hash, quota_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(domain.id, local, account.address, account.passwordHash, account.quotaBytes, Date.now());
      } catch (err) {
        if (isUniqueViolation(err)) throw new MailError('ALREADY_EXISTS', `account ${account.address} already exists`);
        throw err;
      }
      return toAccount(this.db.prepare(`${ACCOUNT_SELECT} WHERE a.address = ?`).get(account.address) as AccountRow);
    });
  }

  get(address: string): Promise<AccountRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${ACCOUNT_SELECT} WHERE a.address = ?`).get(address) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  byId(id: number): Promise<AccountRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${ACCOUNT_SELECT} WHERE a.id = ?`).get(id) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  list(domain?: string): Promise<AccountRecord[]> {
    return this.exec(() => {
      const rows =
        domain === undefined
          ? this.db.prepare(`${ACCOUNT_SELECT} ORDER BY d.name, a.local`).all()
          : this.db.prepare(`${ACCOUNT_SELECT} WHERE d.name = ? ORDER BY a.local`).all(domain);
      return (rows as AccountRow[]).map(toAccount);
    });
  }

  remove(address: string): Promise<boolean> {
    return this.exec(() => this.db.prepare('DELETE FROM accounts WHERE address = ?').run(address).changes > 0);
  }

  setPassword(address: string, passwordHash: string): Promise<boolean> {
    return this.exec(
      () =>
        this.db.prepare('UPDATE accounts SET password_hash = ? WHERE address = ?').run(passwordHash, address).changes >
        0,
    );
  }

  setQuota(address: string, quotaBytes: number): Promise<boolean> {
    return this.exec(
      () =>
        this.db.prepare('UPDATE accounts SET quota_bytes = ? WHERE address = ?').run(quotaBytes, address).changes > 0,
    );
  }

  setEnabled(address: string, isEnabled: boolean): Promise<boolean> {
    return this.exec(
      () =>
        this.db.prepare('UPDATE accounts SET enabled = ? WHERE address = ?').run(isEnabled ? 1 : 0, address).changes >
        0,
    );
  }
}

export class Aliases implements AliasRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(source: string, destinations: string[]): Promise<AliasRecord> {
    return this.exec(() => {
      const domainName = source.slice(source.lastIndexOf('@') + 1);
      const domainId = this.db.prepare('SELECT id FROM domains WHERE name = ?').pluck().get(domainName) as
        number | undefined;
      if (domainId === undefined)
        throw new MailError(
          'DOMAIN_NOT_FOUND',
          `domain ${domainName} is not hosted; add it first with "postern domain add ${domainName}"`,
        );
      const insert = this.db.prepare('INSERT OR IGNORE INTO aliases (domain_id, source, destination) VALUES (?, ?, ?)');
      for (const d of destinations) insert.run(domainId, source, d);
      return this.read(source)!;
    });
  }

  private read(source: string): AliasRecord | undefined {
    const dests = this.db
      .prepare('SELECT destination FROM aliases WHERE source = ? ORDER BY id')
      .pluck()
      .all(source) as string[];
    return dests.length ? { source, destinations: dests } : undefined;
  }

  get(source: string): Promise<AliasRecord | undefined> {
    return this.exec(() => this.read(source));
  }

  list(domain?: string): Promise<AliasRecord[]> {
    return this.exec(() => {
      const rows = (
        domain === undefined
          ? this.db.prepare('SELECT source, destination FROM aliases ORDER BY source, id').all()
          : this.db
              .prepare(
                'SELECT a.source, a.destination FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.source, a.id',
              )
              .all(domain)
      ) as { source: string; destination: string }[];
      const out = new Map<string, AliasRecord>();
      for (const r of rows) {
        const rec = out.get(r.source) ?? { source: r.source, destinations: [] };
        rec.destinations.push(r.destination);
        out.set(r.source, rec);
      }
      return [...out.values()];
    });
  }

  remove(source: string, destinations?: string[]): Promise<boolean> {
    return this.exec(() => {
      if (!destinations || destinations.length === 0)
        return this.db.prepare('DELETE FROM aliases WHERE source = ?').run(source).changes > 0;
      const del = this.db.prepare('DELETE FROM aliases WHERE source = ? AND destination = ?');
      let changed = 0;
      for (const d of destinations) changed += del.run(source, d).changes;
      return changed > 0;
    });
  }
}

interface DkimRow {
  domain: string;
  selector: string;
  algorithm: DkimKeyRecord['algorithm'];
  public_key: string;
  key_file: string;
  status: DkimStatus;
  created_at: number;
}
const DKIM_SELECT =
  'SELECT d.name AS domain, k.selector, k.algorithm, k.public_key, k.key_file, k.status, k.created_at FROM dkim_keys k JOIN domains d ON d.id = k.domain_id';
const toDkim = (r: DkimRow): DkimKeyRecord => ({
  domain: r.domain,
  selector: r.selector,
  algorithm: r.algorithm,
  publicKey: r.public_key,
  keyFile: r.key_file,
  status: r.status,
  createdAt: new Date(r.created_at),
});

export class DkimKeys implements DkimKeyRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(key: Omit<DkimKeyRecord, 'createdAt'>): Promise<DkimKeyRecord> {
    return this.exec(() => {
      const domainId = this.db.prepare('SELECT id FROM domains WHERE name = ?').pluck().get(key.domain) as
        number | undefined;
      if (domainId === undefined) throw new MailError('DOMAIN_NOT_FOUND', `domain ${key.domain} is not hosted`);
      try {
        this.db
          .prepare(
            'INSERT INTO dkim_keys (domain_id, selector, algorithm, public_key, key_file, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(domainId, key.selector, key.algorithm, key.publicKey, key.keyFile, key.status, Date.now());
      } catch (err) {
        if (isUniqueViolation(err))
          throw new MailError('ALREADY_EXISTS', `selector ${key.selector} already exists for ${key.domain}`);
        throw err;
      }
      return toDkim(
        this.db.prepare(`${DKIM_SELECT} WHERE d.name = ? AND k.selector = ?`).get(key.domain, key.selector) as DkimRow,
      );
    });
  }

  list(domain?: string): Promise<DkimKeyRecord[]> {
    return this.exec(() =>
      (
        (domain === undefined
          ? this.db.prepare(`${DKIM_SELECT} ORDER BY d.name, k.created_at, k.id`).all()
          : this.db.prepare(`${DKIM_SELECT} WHERE d.name = ? ORDER BY k.created_at, k.id`).all(domain)) as DkimRow[]
      ).map(toDkim),
    );
  }

  setStatus(domain: string, selector: string, status: DkimStatus): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare(
            'UPDATE dkim_keys SET status = ? WHERE selector = ? AND domain_id = (SELECT id FROM domains WHERE name = ?)',
          )
          .run(status, selector, domain).changes > 0,
    );
  }
}
