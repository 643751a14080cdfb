/**
 * The SQLite engine under every repository: opening the database (WAL, pragmas, migrations), the
 * prepared-statement cache, and the write path. better-sqlite3 is synchronous, so each statement runs
 * to completion without interleaving; a transaction holds an in-process lock from BEGIN IMMEDIATE to
 * COMMIT so that statements of other callers never land inside it. Transaction bodies must be short
 * and never wait on the network. Concurrent transactions share one COMMIT (group commit), and every
 * caller is answered only after an fsync of the WAL that began after its COMMIT.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { Coalescer } from '../../lib/coalesce.js';
import { Mutex } from '../../lib/mutex.js';
import type { ChangeEvent, Repos, Tx } from '../index.js';
import type { SqliteChangeFeed } from './change-feed.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;
interface PendingTx {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}
const MAX_GROUP_COMMIT = 256; // transactions per COMMIT
/** How a repository runs its statements: through the engine's lock and WAL fsync, or directly inside a transaction. */
export type Exec = <T>(fn: () => T) => Promise<T>;

/** Opens (creating if needed) the database file in WAL mode and brings its schema up to date. */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Durability: SQLite writes each commit to the WAL without fsync (NORMAL), and Postern fsyncs the
  // WAL itself, off the event loop and shared by every commit since the last fsync, before any caller
  // is told its transaction is done. That is synchronous=FULL's guarantee with group commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  cacheStatements(db);
  return db;
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

export function isUniqueViolation(err: unknown): boolean {
  return (
    (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * The write lock, group commit and WAL fsync of one database. Repositories run through `exec`
 * outside a transaction; inside one, `transaction` hands their bodies repositories that run directly.
 */
export class SqliteEngine {
  /** Outside a transaction: waits for the write lock only while a transaction holds it, and returns after the WAL fsync when something changed. */
  readonly exec: Exec;
  private readonly mutex = new Mutex();
  private readonly txRepos: Repos;
  private readonly pending: PendingTx[] = [];
  private isFlushing = false;

  private readonly walSync: Coalescer;
  private walHandle: Promise<FileHandle> | undefined;
  private walIno = -1;
  private readonly totalChanges: Database.Statement;

  /** `repos` builds the repositories a transaction body gets, over the Exec it is given. */
  constructor(
    readonly db: Db,
    private readonly walFile: string,
    private readonly changes: SqliteChangeFeed,
    repos: (exec: Exec) => Repos,
  ) {
    this.walSync = new Coalescer(() => this.fsyncWal());
    this.totalChanges = db.prepare('SELECT total_changes()').pluck();
    // Outside a transaction a statement waits only while a transaction holds the connection; a
    // statement that changed something returns once the WAL is on disk.
    this.exec = async (fn) => {
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
    this.txRepos = repos(direct);
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

  /** The write lock: while it is held no transaction runs and no outside statement starts. */
  lock(): Promise<() => void> {
    return this.mutex.lock();
  }

  /** Makes everything committed so far durable (one fsync shared with concurrent callers). */
  syncWal(): Promise<void> {
    return this.walSync.run();
  }

  schemaVersion(): number {
    return (this.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  }

  /** Under the write lock: the last fsync, then the database closes; `closeAlso` runs before the lock is released. */
  async close(closeAlso: () => Promise<void>): Promise<void> {
    const release = await this.mutex.lock();
    try {
      await this.walSync.run();
      this.db.close(); // checkpoints (with fsync) and removes the WAL
      await (await this.walHandle)?.close();
      await closeAlso();
    } finally {
      release();
    }
  }
}
