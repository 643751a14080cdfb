/**
 * The Store interface: everything Postern keeps, behind one async API that the SQLite backend
 * (sqlite/) and a PostgreSQL backend implement alike. Inputs are already validated and normalised by
 * the services; the store enforces uniqueness and referential integrity and announces changes after
 * commit. This file holds only the interface and its record types (with changes.ts, filtering.ts and
 * admin.ts): the composition root (main.ts, cli/) imports the backend it opens.
 */
import type { Readable } from 'node:stream';
import type { FlagChange } from '../mail/flags.js';
import type {
  AdminRepo,
  AdminSessionRepo,
  ApiTokenRepo,
  AppPasswordRepo,
  AuditRepo,
  MailSessionRepo,
  MetricsRepo,
} from './admin.js';
import type {
  ChangeEvent,
  ChangeFeed,
  ChangeLogRepo,
  EmailRepo,
  IdentityRepo,
  PushSubscriptionRepo,
  SubmissionRepo,
  ThreadRepo,
} from './changes.js';
import type { ClassifierRepo, FilterListRepo, GreylistRepo, QuarantineRepo } from './filtering.js';

export type * from './admin.js';
export type * from './changes.js';
export type * from './filtering.js';

export interface DomainRecord {
  id: number;
  name: string;
  /** For a domain alias: the hosted domain it maps to (alias.example → example.com). */
  aliasOf: string | null;
  limits: DomainLimits;
  createdAt: Date;
}

/** PostfixAdmin's per-domain limits; 0 = none. */
export interface DomainLimits {
  maxAccounts: number;
  maxAliases: number;
  /** The most the domain's account quotas may add up to. */
  maxQuotaBytes: number;
  /** The quota of an account created without one. */
  defaultQuotaBytes: number;
}

export interface AccountRecord {
  id: number;
  address: string;
  local: string;
  domain: string;
  passwordHash: string;
  /** 0 = no quota. */
  quotaBytes: number;
  usedBytes: number;
  isEnabled: boolean;
  createdAt: Date;
}

export interface AliasRecord {
  /** `user@domain`, or `@domain` for the domain's catch-all. */
  source: string;
  destinations: string[];
}

export type SpecialUse = '\\Drafts' | '\\Sent' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface MailboxRecord {
  id: number;
  accountId: number;
  name: string;
  specialUse: SpecialUse | null;
  /** Its name is on the account's subscription list (which may also hold names that do not exist). */
  isSubscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messageCount: number;
  /** Messages from this UID on are \Recent for the next session to claim them (RFC 3501 §2.3.2). */
  firstRecentUid: number;
}

export interface NewMessage {
  blobHash: string;
  size: number;
  internalDate: Date;
  /** System flags (`\Seen`) and keywords (`$Forwarded`) alike. */
  flags: string[];
  /** Pre-parsed IMAP ENVELOPE and BODYSTRUCTURE (JSON), computed once at delivery. */
  envelope: unknown;
  bodyStructure: unknown;
  /** The envelope as IMAP wire text, sent as is by FETCH ENVELOPE; null when it needs literals. */
  envelopeWire?: string | null;
  /** Per-recipient header lines (Return-Path, Delivered-To) served before the shared content. */
  headerPrefix?: string;
  /** The thread it joins (ThreadRepo.find); without one it starts its own, named by its email id. */
  threadId?: number;
}

export interface MessageRecord extends NewMessage {
  headerPrefix: string;
  id: number;
  /** The email the row holds: the row's id, or the id it had before a MOVE (JMAP id, RFC 8474 EMAILID). */
  emailId: number;
  /** Its thread: the email id of the message that started it (RFC 8474 THREADID, JMAP threadId). */
  threadId: number;
  mailboxId: number;
  uid: number;
  modseq: number;
}

/**
 * Columns a caller does not need (FETCH FLAGS ENVELOPE of 10,000 messages needs no body structure):
 * reading one of them from the returned records throws.
 */
export interface MessageColumnsOmitted {
  bodyStructure?: boolean;
  /** 'all': no envelope; 'when-wired': only where no envelope text (envelopeWire) is stored. */
  envelope?: 'all' | 'when-wired';
}

export type MessageSummary = Pick<MessageRecord, 'uid' | 'modseq' | 'flags' | 'size' | 'internalDate'>;

export type { FlagChange };

export interface DomainRepo {
  add(name: string, options?: { aliasOf?: string }): Promise<DomainRecord>;
  get(name: string): Promise<DomainRecord | undefined>;
  list(): Promise<DomainRecord[]>;
  /** Removes the domain with its accounts, aliases, domain aliases and mailboxes. */
  remove(name: string): Promise<boolean>;
  accountCount(name: string): Promise<number>;
  /** Aliases whose source is in the domain (its catch-all included). */
  aliasCount(name: string): Promise<number>;
  /** The sum of the domain's account quotas. */
  quotaTotal(name: string): Promise<number>;
  setLimits(name: string, limits: DomainLimits): Promise<boolean>;
}

export interface AccountRepo {
  add(account: { address: string; passwordHash: string; quotaBytes: number }): Promise<AccountRecord>;
  get(address: string): Promise<AccountRecord | undefined>;
  byId(id: number): Promise<AccountRecord | undefined>;
  list(domain?: string): Promise<AccountRecord[]>;
  remove(address: string): Promise<boolean>;
  setPassword(address: string, passwordHash: string): Promise<boolean>;
  setQuota(address: string, quotaBytes: number): Promise<boolean>;
  setEnabled(address: string, isEnabled: boolean): Promise<boolean>;
}

export interface AliasRepo {
  /** Adds destinations to a source (creating it); existing destinations are kept. */
  add(source: string, destinations: string[]): Promise<AliasRecord>;
  get(source: string): Promise<AliasRecord | undefined>;
  list(domain?: string): Promise<AliasRecord[]>;
  /** Removes the given destinations, or the whole alias when none are given. */
  remove(source: string, destinations?: string[]): Promise<boolean>;
}

export interface MailboxRepo {
  /** `isSubscribed` adds the name to the subscription list (default: not). */
  create(
    accountId: number,
    name: string,
    options?: { specialUse?: SpecialUse; isSubscribed?: boolean },
  ): Promise<MailboxRecord>;
  get(accountId: number, name: string): Promise<MailboxRecord | undefined>;
  byId(id: number): Promise<MailboxRecord | undefined>;
  list(accountId: number): Promise<MailboxRecord[]>;
  rename(id: number, newName: string): Promise<void>;
  remove(id: number): Promise<void>;
  /**
   * RFC 9051 §6.3.7: the subscription list holds names, not mailboxes: a name may be subscribed
   * without a mailbox, and deleting a mailbox leaves its subscription; RENAME moves it.
   */
  setSubscription(accountId: number, name: string, isSubscribed: boolean): Promise<void>;
  subscriptions(accountId: number): Promise<string[]>;
  /**
   * RFC 3501 §2.3.2: one session sees a message as \Recent. Moves the mailbox's first recent UID past
   * `throughUid` and returns where it was: the messages from there to `throughUid` are this caller's.
   */
  claimRecent(id: number, throughUid: number): Promise<number>;
}

export interface MessageRepo {
  /**
   * Appends with the next UID and a new modseq; counts the size against the account's usage.
   * `emailId` keeps the email a MOVE takes from another row; otherwise the row is a new email.
   */
  append(mailboxId: number, message: NewMessage, emailId?: number): Promise<MessageRecord>;
  get(mailboxId: number, uid: number): Promise<MessageRecord | undefined>;
  /**
   * Messages in UID order. `envelopeContains` keeps only those whose stored envelope holds that
   * printable-ASCII text (case-insensitively) or that have no stored envelope: a coarse filter the
   * caller refines (SEARCH HEADER Message-ID without reading every row).
   */
  list(
    mailboxId: number,
    range?: { fromUid?: number; toUid?: number; envelopeContains?: string; omit?: MessageColumnsOmitted },
  ): Promise<MessageRecord[]>;
  /** UID, flags and sizes of every message, without the stored structure: for SELECT, STATUS, SEARCH. */
  summaries(mailboxId: number): Promise<MessageSummary[]>;
  setFlags(
    mailboxId: number,
    uids: number[],
    change: FlagChange,
    flags: string[],
  ): Promise<{ uids: number[]; modseq: number }>;
  expunge(mailboxId: number, uids: number[]): Promise<{ uids: number[]; modseq: number }>;
}

export interface SearchDocument {
  subject: string;
  /** The other header fields' text. */
  headers: string;
  body: string;
}

export interface FullTextRepo {
  /** Indexes a content once; later calls for the same content do nothing and return false. */
  index(blobHash: string, doc: SearchDocument): Promise<boolean>;
  /**
   * UIDs in a mailbox whose indexed text holds every word of `query` (as a word or word prefix), in
   * all columns or only the body.
   */
  search(mailboxId: number, query: string, column?: 'body'): Promise<number[]>;
}

export interface QueueRecipient {
  id: number;
  recipient: string;
  /** pending: waiting or being tried; sent: the remote server accepted it; failed: bounced. */
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  /** The host that accepted or refused it (for the DSN's Remote-MTA). */
  remoteMta: string | null;
  notify: string | null;
  orcpt: string | null;
  delayNotified: boolean;
}

export interface QueueEntry extends Omit<NewQueueEntry, 'recipients'> {
  isHeld: boolean;
  createdAt: Date;
  recipients: QueueRecipient[];
}

export interface NewQueueEntry {
  qid: string;
  blobHash: string;
  sender: string;
  size: number;
  authUser: string | null;
  envid: string | null;
  ret: string | null;
  recipients: Array<{ recipient: string; notify: string | null; orcpt: string | null }>;
}

/** The outcome of one attempt for one recipient; `pending` with `nextAttemptAt` is a deferral. */
export interface QueueOutcome {
  id: number;
  status: QueueRecipient['status'];
  error: string | null;
  remoteMta: string | null;
  nextAttemptAt?: Date;
}

export interface QueueRepo {
  add(entry: NewQueueEntry): Promise<QueueEntry>;
  get(qid: string): Promise<QueueEntry | undefined>;
  list(): Promise<QueueEntry[]>;
  remove(qid: string): Promise<boolean>;
  /**
   * Leases up to `limit` due recipients of entries not on hold to `owner` until now + `leaseMs`,
   * atomically (another process never gets the same rows while the lease runs). Returns their
   * entries holding only the leased recipients.
   */
  claim(owner: string, options: { now: Date; leaseMs: number; limit: number }): Promise<QueueEntry[]>;
  /** Extends every lease `owner` holds; returns how many. */
  renewLeases(owner: string, until: Date): Promise<number>;
  /** Gives up `owner`'s leases without an attempt (shutdown). */
  releaseLeases(owner: string): Promise<number>;
  /** Records attempt outcomes (durably) and releases their leases. */
  record(outcomes: QueueOutcome[]): Promise<void>;
  markDelayNotified(ids: number[]): Promise<void>;
  /** Makes pending recipients due now: one entry, or all. Returns how many. */
  retry(qid?: string): Promise<number>;
  setHeld(qid: string, held: boolean): Promise<boolean>;
  /** Removes the entry once no recipient is pending; returns whether it did. */
  removeIfDone(qid: string): Promise<boolean>;
  /** Removes every entry with no recipient pending (left by a process that died between its last record and removeIfDone); returns how many. */
  removeAllDone(): Promise<number>;
  recordTls(
    results: Array<{ policyDomain: string; policyType: string; mxHost: string; result: string }>,
  ): Promise<void>;
  tlsResults(
    day: string,
  ): Promise<Array<{ policyDomain: string; policyType: string; mxHost: string; result: string; count: number }>>;
}

export type DkimAlgorithm = 'rsa2048' | 'rsa4096' | 'ed25519';
/** pending: published but not yet seen in DNS; active: signs; retired: kept listed for removal. */
export type DkimStatus = 'pending' | 'active' | 'retired';

export interface DkimKeyRecord {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** Base64 of the DER public key (RSA) or the raw 32-byte key (ed25519): the p= tag. */
  publicKey: string;
  keyFile: string;
  status: DkimStatus;
  createdAt: Date;
}

export interface DkimKeyRepo {
  add(key: Omit<DkimKeyRecord, 'createdAt'>): Promise<DkimKeyRecord>;
  list(domain?: string): Promise<DkimKeyRecord[]>;
  setStatus(domain: string, selector: string, status: DkimStatus): Promise<boolean>;
}

export interface SieveScriptRecord {
  /** Kept through a rename and a rewrite (JMAP's SieveScript id). */
  id: number;
  name: string;
  content: string;
  isActive: boolean;
  updatedAt: Date;
}

/** RFC 5804 script storage: names are unique per account, at most one script is active. */
export interface SieveScriptRepo {
  list(accountId: number): Promise<Array<Omit<SieveScriptRecord, 'content'> & { size: number }>>;
  get(accountId: number, name: string): Promise<SieveScriptRecord | undefined>;
  active(accountId: number): Promise<SieveScriptRecord | undefined>;
  /** Creates or replaces; the active mark is kept on replace. */
  put(accountId: number, name: string, content: string): Promise<void>;
  /** NOT_FOUND when absent; false when the script is active (RFC 5804 §2.10: it is not deleted). */
  remove(accountId: number, name: string): Promise<boolean>;
  /** NOT_FOUND / ALREADY_EXISTS as the names require. */
  rename(accountId: number, from: string, to: string): Promise<void>;
  /** Activates `name` (NOT_FOUND when absent) or, with null, deactivates all. */
  setActive(accountId: number, name: string | null): Promise<void>;
  /** Records an automatic reply to `key` until `expiresAt`; false when one is recorded and not expired. */
  claimResponse(accountId: number, key: string, expiresAt: Date, now?: Date): Promise<boolean>;
}

export interface BlobStore {
  /**
   * Stores content once per SHA-256, durable (file and directory fsynced) before `use` runs, and
   * keeps it from being collected until `use` settles: the transaction that references the content
   * runs inside `use`. Content no committed row references is collected afterwards.
   */
  withContent<T>(
    content: Buffer,
    use: (blob: { hash: string; size: number; isNew: boolean }) => Promise<T>,
  ): Promise<T>;
  get(hash: string): Promise<Buffer>;
  stream(hash: string, range?: { start: number; end: number }): Readable;
  has(hash: string): Promise<boolean>;
}

export interface Repos {
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
}

export interface Tx extends Repos {
  /** Queues an event; subscribers receive it only after the transaction commits. */
  notify(event: ChangeEvent): void;
}

export interface Store extends Repos {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  readonly blobs: BlobStore;
  readonly changes: ChangeFeed;
  /** Applied schema migrations, newest last. */
  schemaVersion(): Promise<number>;
  /**
   * Deletes content that no message and no queue entry references any more: its row, its full-text
   * entry and its file; and files without a row (`sweepDirs` of the 256 fan-out directories, default
   * one per run). Content a writer holds (withContent) is left for the next run, and so is content
   * that lost its last reference less than `releasedForMs` ago (sessions may still be reading it).
   */
  collectGarbage(options?: {
    batch?: number;
    sweepDirs?: number;
    releasedForMs?: number;
  }): Promise<{ blobs: number; bytes: number; orphans: number }>;
  close(): Promise<void>;
}
