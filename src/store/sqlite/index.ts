/**
 * SQLite backend (better-sqlite3, WAL), assembled from its parts: the engine (engine.ts: open,
 * statement cache, group commit, WAL fsync), one repository per area (directory.ts, mailboxes.ts,
 * messages.ts, fulltext.ts, queue.ts, sieve.ts), content files (blobs.ts) and their collector
 * (collector.ts), and the in-process change feed (change-feed.ts). The composition root opens it with
 * openStore; tests open a directory directly with openSqliteStore.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type {
  AccountRepo,
  AdminRepo,
  AdminSessionRepo,
  MailSessionRepo,
  ApiTokenRepo,
  AppPasswordRepo,
  AuditRepo,
  MetricsRepo,
  AliasRepo,
  ChangeLogRepo,
  ThreadRepo,
  EmailRepo,
  SubmissionRepo,
  PushSubscriptionRepo,
  IdentityRepo,
  ClassifierRepo,
  DkimKeyRepo,
  DomainRepo,
  FullTextRepo,
  MailboxRepo,
  MessageRepo,
  QueueRepo,
  Repos,
  SieveScriptRepo,
  FilterListRepo,
  QuarantineRepo,
  GreylistRepo,
  Store,
  Tx,
} from '../index.js';
import { AdminSessions, Admins, ApiTokens, AppPasswords, Audit, Metrics } from './admin.js';
import { MailSessions } from './mail-sessions.js';
import { FileBlobStore } from './blobs.js';
import { SqliteChangeFeed } from './change-feed.js';
import { ChangeLog } from './changes.js';
import { Emails } from './emails.js';
import { Submissions } from './submissions.js';
import { PushSubscriptions } from './push-subscriptions.js';
import { Identities } from './identities.js';
import { Threads } from './threads.js';
import { Classifier } from './classifier.js';
import { BlobCollector } from './collector.js';
import { Accounts, Aliases, DkimKeys, Domains } from './directory.js';
import { SqliteEngine, openDatabase, type Db, type Exec } from './engine.js';
import { FilterLists, Greylist, Quarantine } from './filtering.js';
import { FullText } from './fulltext.js';
import { Mailboxes } from './mailboxes.js';
import { Messages } from './messages.js';
import { Queue } from './queue.js';
import { SieveScripts } from './sieve.js';

export async function openSqliteStore(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  const db = openDatabase(path.join(dataDir, 'postern.db'));
  const blobs = new FileBlobStore(path.join(dataDir, 'blobs'));
  await blobs.init();
  return new SqliteStore(db, blobs, path.join(dataDir, 'postern.db-wal'));
}

/** Every repository over one database, running its statements through `exec`. */
function repositories(db: Db, exec: Exec): Repos {
  return {
    domains: new Domains(db, exec),
    accounts: new Accounts(db, exec),
    aliases: new Aliases(db, exec),
    mailboxes: new Mailboxes(db, exec),
    messages: new Messages(db, exec),
    fulltext: new FullText(db, exec),
    queue: new Queue(db, exec),
    dkim: new DkimKeys(db, exec),
    sieve: new SieveScripts(db, exec),
    filterLists: new FilterLists(db, exec),
    quarantine: new Quarantine(db, exec),
    greylist: new Greylist(db, exec),
    classifier: new Classifier(db, exec),
    changeLog: new ChangeLog(db, exec),
    threads: new Threads(db, exec),
    emails: new Emails(db, exec),
    submissions: new Submissions(db, exec),
    pushSubscriptions: new PushSubscriptions(db, exec),
    identities: new Identities(db, exec),
    admins: new Admins(db, exec),
    apiTokens: new ApiTokens(db, exec),
    audit: new Audit(db, exec),
    appPasswords: new AppPasswords(db, exec),
    adminSessions: new AdminSessions(db, exec),
    mailSessions: new MailSessions(db, exec),
    metrics: new Metrics(db, exec),
  };
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
  readonly filterLists: FilterListRepo;
  readonly quarantine: QuarantineRepo;
  readonly greylist: GreylistRepo;
  readonly classifier: ClassifierRepo;
  readonly changeLog: ChangeLogRepo;
  readonly threads: ThreadRepo;
  readonly emails: EmailRepo;
  readonly submissions: SubmissionRepo;
  readonly pushSubscriptions: PushSubscriptionRepo;
  readonly identities: IdentityRepo;
  readonly admins: AdminRepo;
  readonly apiTokens: ApiTokenRepo;
  readonly audit: AuditRepo;
  readonly appPasswords: AppPasswordRepo;
  readonly adminSessions: AdminSessionRepo;
  readonly mailSessions: MailSessionRepo;
  readonly metrics: MetricsRepo;
  readonly changes = new SqliteChangeFeed();
  private readonly engine: SqliteEngine;
  private readonly collector: BlobCollector;

  constructor(
    db: Db,
    readonly blobs: FileBlobStore,
    walFile: string,
  ) {
    this.engine = new SqliteEngine(db, walFile, this.changes, (exec) => repositories(db, exec));
    this.collector = new BlobCollector(this.engine, blobs);
    const repos = repositories(db, this.engine.exec);
    this.domains = repos.domains;
    this.accounts = repos.accounts;
    this.aliases = repos.aliases;
    this.mailboxes = repos.mailboxes;
    this.messages = repos.messages;
    this.fulltext = repos.fulltext;
    this.queue = repos.queue;
    this.dkim = repos.dkim;
    this.sieve = repos.sieve;
    this.filterLists = repos.filterLists;
    this.quarantine = repos.quarantine;
    this.greylist = repos.greylist;
    this.classifier = repos.classifier;
    this.changeLog = repos.changeLog;
    this.threads = repos.threads;
    this.emails = repos.emails;
    this.submissions = repos.submissions;
    this.pushSubscriptions = repos.pushSubscriptions;
    this.identities = repos.identities;
    this.admins = repos.admins;
    this.apiTokens = repos.apiTokens;
    this.audit = repos.audit;
    this.appPasswords = repos.appPasswords;
    this.adminSessions = repos.adminSessions;
    this.mailSessions = repos.mailSessions;
    this.metrics = repos.metrics;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.engine.transaction(fn);
  }

  collectGarbage(
    options: { batch?: number; sweepDirs?: number; releasedForMs?: number } = {},
  ): Promise<{ blobs: number; bytes: number; orphans: number }> {
    return this.collector.collect(options);
  }

  async schemaVersion(): Promise<number> {
    return this.engine.schemaVersion();
  }

  close(): Promise<void> {
    return this.engine.close(() => this.blobs.close());
  }
}
