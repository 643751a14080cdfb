/**
 * SQLite backend (better-sqlite3, WAL). better-sqlite3 is synchronous, so each
 * statement runs to completion without interleaving; a transaction holds an in-process lock from
 * BEGIN IMMEDIATE to COMMIT so that statements of other callers never land inside it. Transaction
 * bodies must be short and never wait on the network.
 */
import { mkdirSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Coalescer } from '../../lib/coalesce.js';
import { MailError } from '../../lib/errors.js';
import { Mutex } from '../../lib/mutex.js';
import { applyFlags, checkFlags, normalizeFlags } from '../../mail/flags.js';
import type {
  AccountRecord,
  AccountRepo,
  AliasRecord,
  AliasRepo,
  ChangeEvent,
  ChangeFeed,
  DkimKeyRecord,
  DkimKeyRepo,
  DkimStatus,
  SieveScriptRecord,
  SieveScriptRepo,
  DomainRecord,
  DomainRepo,
  FlagChange,
  FullTextRepo,
  MailboxRecord,
  MailboxRepo,
  MessageColumnsOmitted,
  MessageRecord,
  MessageRepo,
  MessageSummary,
  NewMessage,
  NewQueueEntry,
  QueueEntry,
  QueueOutcome,
  QueueRecipient,
  QueueRepo,
  SearchDocument,
  SpecialUse,
  Store,
  Tx,
} from '../index.js';
import { FileBlobStore } from './blobs.js';
import { MIGRATIONS } from './migrations.js';

type Db = Database.Database;
interface PendingTx {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}
const MAX_GROUP_COMMIT = 256; // transactions per COMMIT
type Exec = <T>(fn: () => T) => Promise<T>;

export async function openSqliteStore(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  const db = new Database(path.join(dataDir, 'postern.db'));
  db.pragma('journal_mode = WAL');
  // Durability: SQLite writes each commit to the WAL without fsync (NORMAL), and Postern fsyncs the
  // WAL itself, off the event loop and shared by every commit since the last fsync, before any caller
  // is told its transaction is done. That is synchronous=FULL's guarantee with group commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  cacheStatements(db);
  const blobs = new FileBlobStore(path.join(dataDir, 'blobs'));
  await blobs.init();
  return new SqliteStore(db, blobs, path.join(dataDir, 'postern.db-wal'));
}

/**
 * Prepared statements are reused: preparing costs more than running most of them. Each SQL text is
 * used from one call site, so a statement's mode (pluck) is the same on every use.
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) cache.set(sql, (stmt = prepare(sql)));
    return stmt;
  }) as Db['prepare'];
}

function migrate(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }).immediate();
  }
}

class SqliteChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<number, Set<(event: ChangeEvent) => void>>();

  subscribe(accountId: number, listener: (event: ChangeEvent) => void): () => void {
    let set = this.listeners.get(accountId);
    if (!set) this.listeners.set(accountId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(accountId);
    };
  }

  publish(event: ChangeEvent): void {
    for (const listener of this.listeners.get(event.accountId) ?? []) listener(event);
  }
}

class SqliteStore implements Store {
  readonly domains: DomainRepo;
  readonly accounts: AccountRepo;
  readonly aliases: AliasRepo;
  readonly mailboxes: MailboxRepo;
  readonly messages: MessageRepo;
  readonly fulltext: FullTextRepo;
  readonly queue: QueueRepo;
  readonly dkim: DkimKeyRepo;
  readonly sieve: SieveScriptRepo;
  readonly changes = new SqliteChangeFeed();
  private readonly mutex = new Mutex();
  private readonly txRepos: Omit<Tx, 'notify'>;
  private readonly pending: PendingTx[] = [];
  private isFlushing = false;

  private readonly walSync: Coalescer;
  private walHandle: Promise<FileHandle> | undefined;
  private walIno = -1;
  private readonly totalChanges: Database.Statement;
  /** The fan-out directory the next orphan sweep looks at. */
  private sweepNext = Math.floor(Math.random() * 256);

  constructor(
    private readonly db: Db,
    readonly blobs: FileBlobStore,
    private readonly walFile: string,
  ) {
    this.walSync = new Coalescer(() => this.fsyncWal());
    this.totalChanges = db.prepare('SELECT total_changes()').pluck();
    // Outside a transaction a statement waits only while a transaction holds the connection; a
    // statement that changed something returns once the WAL is on disk.
    const exec: Exec = async (fn) => {
      let release: (() => void) | undefined;
      if (this.mutex.isLocked) release = await this.mutex.lock();
      let result;
      const before = this.totalChanges.get() as number;
      try {
        result = fn();
      } finally {
        release?.();
      }
      if ((this.totalChanges.get() as number) !== before) await this.walSync.run();
      return result;
    };
    const direct: Exec = async (fn) => fn();
    this.domains = new Domains(db, exec);
    this.accounts = new Accounts(db, exec);
    this.aliases = new Aliases(db, exec);
    this.mailboxes = new Mailboxes(db, exec);
    this.messages = new Messages(db, exec);
    this.fulltext = new FullText(db, exec);
    this.queue = new Queue(db, exec);
    this.dkim = new DkimKeys(db, exec);
    this.sieve = new SieveScripts(db, exec);
    this.txRepos = {
      domains: new Domains(db, direct),
      accounts: new Accounts(db, direct),
      aliases: new Aliases(db, direct),
      mailboxes: new Mailboxes(db, direct),
      messages: new Messages(db, direct),
      fulltext: new FullText(db, direct),
      queue: new Queue(db, direct),
      dkim: new DkimKeys(db, direct),
      sieve: new SieveScripts(db, direct),
    };
  }

  /**
   * Group commit: transactions that arrive while others run are applied together, each in its own
   * SAVEPOINT (a failure rolls back only its own work), under one BEGIN IMMEDIATE … COMMIT, so many
   * concurrent deliveries share one fsync of the WAL. Every caller resolves only after that COMMIT.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn: fn as (tx: Tx) => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.isFlushing) {
        this.isFlushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_GROUP_COMMIT);
      const release = await this.mutex.lock();
      let committed: Array<{ item: PendingTx; result: unknown; events: ChangeEvent[] }> = [];
      try {
        this.db.exec('BEGIN IMMEDIATE');
        for (const item of batch) {
          const events: ChangeEvent[] = [];
          this.db.exec('SAVEPOINT tx');
          try {
            const result = await item.fn({ ...this.txRepos, notify: (event) => events.push(event) });
            this.db.exec('RELEASE tx');
            committed.push({ item, result, events });
          } catch (err) {
            this.db.exec('ROLLBACK TO tx');
            this.db.exec('RELEASE tx');
            item.reject(err);
          }
        }
        this.db.exec('COMMIT');
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        for (const c of committed) c.item.reject(err);
        committed = [];
      } finally {
        release();
      }
      if (committed.length > 0) {
        // Callers learn of their commit once the WAL is on disk; the next batch commits meanwhile.
        const done = committed;
        this.walSync.run().then(
          () => {
            for (const c of done) {
              for (const event of c.events) this.changes.publish(event);
              c.item.resolve(c.result);
            }
          },
          (err: unknown) => done.forEach((c) => c.item.reject(err)),
        );
      }
      if (this.pending.length > 0) await new Promise((r) => setImmediate(r));
    }
    this.isFlushing = false;
  }

  /** fsync of the WAL through our own descriptor, reopened if the file was ever replaced. */
  private async fsyncWal(): Promise<void> {
    const [current, handle] = await Promise.all([stat(this.walFile), this.walHandle]);
    if (!handle || current.ino !== this.walIno) {
      await handle?.close();
      this.walIno = current.ino;
      this.walHandle = open(this.walFile, 'r');
      this.walHandle.catch(() => (this.walHandle = undefined));
    }
    await (await this.walHandle!).datasync();
  }

  async collectGarbage(
    options: { batch?: number; sweepDirs?: number; releasedForMs?: number } = {},
  ): Promise<{ blobs: number; bytes: number; orphans: number }> {
    const batch = options.batch ?? 1000;
    const releasedBefore = Date.now() - (options.releasedForMs ?? 0);
    let blobs = 0;
    let bytes = 0;
    for (;;) {
      // Under the write lock no transaction runs, so refs cannot change between the check and the delete.
      const release = await this.mutex.lock();
      let claimed: ReturnType<FileBlobStore['claim']> | undefined;
      let rows: Array<{ rowid: number; hash: string; size: number }>;
      try {
        rows = this.db
          .prepare(
            'SELECT rowid, hash, size FROM blobs WHERE refs <= 0 AND (released_at IS NULL OR released_at <= ?) LIMIT ?',
          )
          .all(releasedBefore, batch) as typeof rows;
        claimed = this.blobs.claim(rows.map((r) => r.hash));
        const chosen = new Set(claimed.hashes);
        const dropFts = this.db.prepare('DELETE FROM blob_fts WHERE rowid = ?');
        const dropRow = this.db.prepare('DELETE FROM blobs WHERE hash = ? AND refs <= 0');
        this.db.transaction(() => {
          for (const r of rows) {
            if (!chosen.has(r.hash)) continue;
            dropFts.run(r.rowid);
            dropRow.run(r.hash);
            blobs++;
            bytes += r.size;
          }
        })();
      } catch (err) {
        claimed?.cancel();
        throw err;
      } finally {
        release();
      }
      try {
        await this.walSync.run();
      } catch (err) {
        claimed.cancel();
        throw err;
      }
      await claimed.remove();
      // Rows a writer holds stay for the next run; stop when a batch found nothing else.
      if (rows.length < batch || claimed.hashes.length === 0) break;
    }
    // Files without a row: a write whose transaction failed, or a crash between a write and its
    // commit. One fan-out directory per run (all 256 when asked), in turn.
    let orphans = 0;
    for (let i = 0; i < Math.min(options.sweepDirs ?? 1, 256); i++) {
      const dir = this.sweepNext;
      this.sweepNext = (this.sweepNext + 1) % 256;
      const files = await this.blobs.listDir(dir);
      if (files.length === 0) continue;
      const release = await this.mutex.lock();
      let claimed: ReturnType<FileBlobStore['claim']>;
      try {
        const known = this.db.prepare('SELECT 1 FROM blobs WHERE hash = ?').pluck();
        claimed = this.blobs.claim(files.filter((h) => known.get(h) === undefined));
      } finally {
        release();
      }
      // Nothing to undo here if the unlinks fail: remove() releases the claims either way.
      await claimed.remove();
      orphans += claimed.hashes.length;
    }
    return { blobs, bytes, orphans };
  }

  async schemaVersion(): Promise<number> {
    return (this.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  }

  async close(): Promise<void> {
    const release = await this.mutex.lock();
    try {
      await this.walSync.run();
      this.db.close(); // checkpoints (with fsync) and removes the WAL
      await (await this.walHandle)?.close();
      await this.blobs.close();
    } finally {
      release();
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  return (
    (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

interface DomainRow {
  id: number;
  name: string;
  alias_of_name: string | null;
  created_at: number;
}
const DOMAIN_SELECT =
  'SELECT d.id, d.name, t.name AS alias_of_name, d.created_at FROM domains d LEFT JOIN domains t ON t.id = d.alias_of';
const toDomain = (r: DomainRow): DomainRecord => ({
  id: r.id,
  name: r.name,
  aliasOf: r.alias_of_name,
  createdAt: new Date(r.created_at),
});

class Domains implements DomainRepo {
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

class Accounts implements AccountRepo {
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

class Aliases implements AliasRepo {
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

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  special_use: string | null;
  subscribed: number; /* computed from subscriptions */
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  message_count: number;
  first_recent_uid: number;
}
const toMailbox = (r: MailboxRow): MailboxRecord => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  specialUse: r.special_use as SpecialUse | null,
  isSubscribed: r.subscribed === 1,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
  highestModseq: r.highest_modseq,
  messageCount: r.message_count,
  firstRecentUid: r.first_recent_uid,
});

/** Mailbox rows with whether their name is subscribed. */
const MAILBOX_SELECT =
  'SELECT m.*, EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name) AS subscribed FROM mailboxes m';

class Mailboxes implements MailboxRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  create(
    accountId: number,
    name: string,
    options: { specialUse?: SpecialUse; isSubscribed?: boolean } = {},
  ): Promise<MailboxRecord> {
    return this.exec(() => {
      // RFC 9051 §2.3.1.1: UIDVALIDITY must change when a name is reused; seconds, kept increasing.
      const uidValidity = this.db
        .prepare(
          'UPDATE accounts SET last_uid_validity = MAX(last_uid_validity + 1, ?) WHERE id = ? RETURNING last_uid_validity',
        )
        .pluck()
        .get(Math.floor(Date.now() / 1000), accountId) as number | undefined;
      if (uidValidity === undefined) throw new MailError('ACCOUNT_NOT_FOUND', `account ${accountId} does not exist`);
      try {
        const info = this.db
          .prepare(
            'INSERT INTO mailboxes (account_id, name, special_use, uid_validity, created_at) VALUES (?, ?, ?, ?, ?)',
          )
          .run(accountId, name, options.specialUse ?? null, uidValidity, Date.now());
        if (options.isSubscribed)
          this.db.prepare('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, name);
        return toMailbox(this.db.prepare(`${MAILBOX_SELECT} WHERE m.id = ?`).get(info.lastInsertRowid) as MailboxRow);
      } catch (err) {
        if (isUniqueViolation(err)) throw new MailError('MAILBOX_EXISTS', `mailbox ${name} already exists`);
        throw err;
      }
    });
  }

  get(accountId: number, name: string): Promise<MailboxRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${MAILBOX_SELECT} WHERE m.account_id = ? AND m.name = ?`).get(accountId, name) as
        MailboxRow | undefined;
      return row && toMailbox(row);
    });
  }

  byId(id: number): Promise<MailboxRecord | undefined> {
    return this.exec(() => {
      const row = this.db.prepare(`${MAILBOX_SELECT} WHERE m.id = ?`).get(id) as MailboxRow | undefined;
      return row && toMailbox(row);
    });
  }

  list(accountId: number): Promise<MailboxRecord[]> {
    return this.exec(() =>
      (this.db.prepare(`${MAILBOX_SELECT} WHERE m.account_id = ? ORDER BY m.name`).all(accountId) as MailboxRow[]).map(
        toMailbox,
      ),
    );
  }

  rename(id: number, newName: string): Promise<void> {
    return this.exec(() => {
      try {
        const old = this.db.prepare('SELECT account_id, name FROM mailboxes WHERE id = ?').get(id) as
          { account_id: number; name: string } | undefined;
        if (!old) throw new MailError('MAILBOX_NOT_FOUND', `mailbox ${id} does not exist`);
        this.db.prepare('UPDATE mailboxes SET name = ? WHERE id = ?').run(newName, id);
        // The subscription follows the mailbox to its new name.
        if (
          this.db.prepare('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(old.account_id, old.name)
            .changes > 0
        ) {
          this.db
            .prepare('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)')
            .run(old.account_id, newName);
        }
      } catch (err) {
        if (isUniqueViolation(err)) throw new MailError('MAILBOX_EXISTS', `mailbox ${newName} already exists`);
        throw err;
      }
    });
  }

  claimRecent(id: number, throughUid: number): Promise<number> {
    return this.exec(() => {
      const before = this.db.prepare('SELECT first_recent_uid FROM mailboxes WHERE id = ?').pluck().get(id) as
        number | undefined;
      if (before === undefined) throw new MailError('MAILBOX_NOT_FOUND', `mailbox ${id} does not exist`);
      if (throughUid >= before)
        this.db.prepare('UPDATE mailboxes SET first_recent_uid = ? WHERE id = ?').run(throughUid + 1, id);
      return before;
    });
  }

  remove(id: number): Promise<void> {
    return this.exec(() => {
      // Messages first, while the mailbox row still tells the usage trigger whose quota to credit.
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM messages WHERE mailbox_id = ?').run(id);
        if (this.db.prepare('DELETE FROM mailboxes WHERE id = ?').run(id).changes === 0)
          throw new MailError('MAILBOX_NOT_FOUND', `mailbox ${id} does not exist`);
      })();
    });
  }

  setSubscription(accountId: number, name: string, isSubscribed: boolean): Promise<void> {
    return this.exec(() => {
      if (isSubscribed)
        this.db.prepare('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, name);
      else this.db.prepare('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, name);
    });
  }

  subscriptions(accountId: number): Promise<string[]> {
    return this.exec(
      () =>
        this.db
          .prepare('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name')
          .pluck()
          .all(accountId) as string[],
    );
  }
}

const MESSAGE_COLUMNS =
  'id, mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, envelope, body_structure, header_prefix, envelope_wire';
/** A column the caller asked to leave out: reading it is a programming error. */
const NOT_READ = Symbol('not read');

/** The column list for `list`, with what the caller does not need left out (read back as NOT_READ). */
function messageColumns(omit: MessageColumnsOmitted | undefined): string {
  if (!omit) return MESSAGE_COLUMNS;
  // 0 marks a column left out: stored values are text or NULL.
  const envelope =
    omit.envelope === 'all'
      ? '0'
      : omit.envelope === 'when-wired'
        ? 'CASE WHEN envelope_wire IS NULL THEN envelope ELSE 0 END'
        : 'envelope';
  const structure = omit.bodyStructure ? '0' : 'body_structure';
  return `id, mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, ${envelope}, ${structure}, header_prefix, envelope_wire`;
}
type MessageTuple = [
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
];

/**
 * A message row read as an array (no per-row column-name object). Envelope and body structure are
 * parsed on first use: FETCH FLAGS of 10,000 messages needs neither.
 */
class StoredRow implements MessageRecord {
  readonly id: number;
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

class Messages implements MessageRepo {
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

  append(mailboxId: number, m: NewMessage): Promise<MessageRecord> {
    return this.exec(() => {
      const modseq = this.nextModseq(mailboxId);
      const { uid } = this.db
        .prepare('UPDATE mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next - 1 AS uid')
        .get(mailboxId) as { uid: number };
      const flags = normalizeFlags(m.flags);
      checkFlags(flags);
      const headerPrefix = m.headerPrefix ?? '';
      const envelopeWire = m.envelopeWire ?? null;
      const info = this.db
        .prepare(
          'INSERT INTO messages (mailbox_id, uid, modseq, blob_hash, size, internal_date, flags, envelope, body_structure, header_prefix, envelope_wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
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
        );
      return {
        blobHash: m.blobHash,
        size: m.size,
        internalDate: m.internalDate,
        flags,
        envelope: m.envelope,
        bodyStructure: m.bodyStructure,
        headerPrefix,
        envelopeWire,
        id: Number(info.lastInsertRowid),
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

class FullText implements FullTextRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  index(blobHash: string, doc: SearchDocument): Promise<boolean> {
    return this.exec(() => {
      const row = this.db
        .prepare('UPDATE blobs SET indexed = 1 WHERE hash = ? AND indexed = 0 RETURNING rowid')
        .get(blobHash) as { rowid: number } | undefined;
      if (!row) return false;
      // The column named "addresses" (migration 3) holds every header field but the subject.
      this.db
        .prepare('INSERT INTO blob_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)')
        .run(row.rowid, doc.subject, doc.headers, doc.body);
      return true;
    });
  }

  search(mailboxId: number, query: string, column?: 'body'): Promise<number[]> {
    return this.exec(() => {
      const words = query
        .split(/[^\p{L}\p{N}_]+/u)
        .filter(Boolean)
        .slice(0, 8); // IMAP allows 8 words per SEARCH
      if (words.length === 0) return [];
      const terms = words.map((w) => this.termsContaining(w)).join(' AND ');
      const match = column ? `${column} : (${terms})` : terms;
      return this.db
        .prepare(
          `SELECT m.uid FROM messages m JOIN blobs b ON b.hash = m.blob_hash
                  WHERE m.mailbox_id = ? AND b.rowid IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?) ORDER BY m.uid`,
        )
        .pluck()
        .all(mailboxId, match) as number[];
    });
  }

  /**
   * A word as a MATCH expression for "any indexed word containing it" (RFC 9051 §6.4.4: SEARCH is a
   * substring match): the index's vocabulary is searched for terms holding it, and the word matches
   * any of them. When too many terms hold it (a very common fragment), words starting with it do.
   */
  private termsContaining(word: string): string {
    const folded = word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase(); // as unicode61 remove_diacritics 2 indexes it
    const quote = (t: string) => `"${t.replace(/"/g, '""')}"`;
    const like = `%${folded.replace(/[\\%_]/g, '\\$&')}%`;
    const terms = this.db
      .prepare("SELECT term FROM blob_fts_vocab WHERE term LIKE ? ESCAPE '\\' LIMIT ?")
      .pluck()
      .all(like, MAX_SUBSTRING_TERMS + 1) as string[];
    if (terms.length > MAX_SUBSTRING_TERMS || terms.length === 0) return `${quote(folded)}*`;
    return `(${terms.map(quote).join(' OR ')})`;
  }
}

/** Indexed words a search word may stand for; past it the word matches as a prefix only. */
const MAX_SUBSTRING_TERMS = 500;

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

class Queue implements QueueRepo {
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

class DkimKeys implements DkimKeyRepo {
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

interface SieveRow {
  name: string;
  content: string;
  active: number;
  updated_at: number;
}
const toSieve = (r: SieveRow): SieveScriptRecord => ({
  name: r.name,
  content: r.content,
  isActive: r.active === 1,
  updatedAt: new Date(r.updated_at),
});

class SieveScripts implements SieveScriptRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  list(accountId: number): Promise<Array<Omit<SieveScriptRecord, 'content'> & { size: number }>> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            'SELECT name, length(CAST(content AS BLOB)) AS size, active, updated_at FROM sieve_scripts WHERE account_id = ? ORDER BY name',
          )
          .all(accountId) as Array<Omit<SieveRow, 'content'> & { size: number }>
      ).map((r) => ({ name: r.name, size: r.size, isActive: r.active === 1, updatedAt: new Date(r.updated_at) })),
    );
  }

  get(accountId: number, name: string): Promise<SieveScriptRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare('SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND name = ?')
        .get(accountId, name) as SieveRow | undefined;
      return row && toSieve(row);
    });
  }

  active(accountId: number): Promise<SieveScriptRecord | undefined> {
    return this.exec(() => {
      const row = this.db
        .prepare('SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND active = 1')
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
