import type { MessageColumnsOmitted, MessageRecord } from './index.js';

/**
 * Changes: the events published after a commit (ChangeFeed: IMAP IDLE, POP3, later JMAP push), the
 * account change log kept in the store (ChangeLogRepo), and threads (ThreadRepo).
 */

export type ChangeEvent =
  | { type: 'added'; accountId: number; mailboxId: number; uid: number; modseq: number }
  | { type: 'flags'; accountId: number; mailboxId: number; uids: number[]; modseq: number }
  | { type: 'expunged'; accountId: number; mailboxId: number; uids: number[]; modseq: number }
  | { type: 'mailbox'; accountId: number; mailboxId: number; change: 'created' | 'renamed' | 'deleted' };

export interface ChangeFeed {
  subscribe(accountId: number, listener: (event: ChangeEvent) => void): () => void;
}

/** One entry of an account's change log: an email (a message row) or a mailbox created, updated or destroyed. */
export interface ChangeRecord {
  seq: number;
  kind: 'email' | 'mailbox';
  change: 'created' | 'updated' | 'destroyed';
  objectId: number;
  /** The mailbox the email is (or was) in; the mailbox itself for a mailbox change. */
  mailboxId: number;
  /** An email's UID in that mailbox; null for a mailbox change. */
  uid: number | null;
  at: Date;
  /** The thread of an email removed (null for other changes, and for removals logged before migration 27). */
  threadId: number | null;
}

/**
 * The account change log (JMAP states and /changes, QRESYNC's expunged UIDs): every message stored,
 * flagged or removed and every mailbox created, renamed, (un)subscribed or deleted, by any protocol,
 * numbered per account in the order committed.
 */
export interface ChangeLogRepo {
  /** The account's last change number, and the number from which changes are still all kept. */
  position(accountId: number): Promise<{ seq: number; keptFrom: number }>;
  /** Changes after `seq`, oldest first, at most `limit`. */
  since(accountId: number, seq: number, limit: number): Promise<ChangeRecord[]>;
  /** Forgets changes made before `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

/**
 * Threads (mail/threads.ts says what a message is threaded by): each account's Message-IDs with the
 * thread and base subject of the message that had it.
 */
export interface ThreadRepo {
  /** The thread of the first of `references` known in the account whose base subject is `subject`. */
  find(accountId: number, references: string[], subject: string): Promise<number | undefined>;
  /** Remembers a message's Message-ID with its thread (a Message-ID seen before keeps its first). */
  remember(accountId: number, messageId: string, threadId: number, subject: string): Promise<void>;
}

/**
 * An account's emails across its mailboxes, by the ids JMAP names them with (an email is in exactly
 * one mailbox: `MessageRecord.emailId`, `threadId`).
 */
export interface EmailRepo {
  /** The emails of the account with these ids; ids of other accounts or gone are left out. */
  byIds(accountId: number, emailIds: number[], omit?: MessageColumnsOmitted): Promise<MessageRecord[]>;
  /** The emails of these threads in the account, oldest first (received, then id). */
  inThreads(accountId: number, threadIds: number[]): Promise<MessageRecord[]>;
  /** Every email of the account, or of one mailbox, newest first (received, then id). */
  list(accountId: number, options?: { mailboxId?: number; omit?: MessageColumnsOmitted }): Promise<MessageRecord[]>;
  /** The email ids of one mailbox of the account, newest first (received, then id), from `offset`, at most `limit`; and how many there are. */
  page(
    accountId: number,
    mailboxId: number,
    offset: number,
    limit: number,
  ): Promise<{ emailIds: number[]; total: number }>;
  /** Per mailbox of the account: its emails and threads, and those not \Seen. */
  counts(accountId: number): Promise<MailboxCounts[]>;
}

export interface MailboxCounts {
  mailboxId: number;
  emails: number;
  unreadEmails: number;
  threads: number;
  unreadThreads: number;
}

/** A message sent through JMAP's EmailSubmission (RFC 8621 §7), as it is kept to be read back. */
export interface SubmissionRecord {
  id: number;
  accountId: number;
  emailId: number;
  threadId: number;
  identityId: string;
  envelope: { mailFrom: string; rcptTo: string[] };
  sendAt: Date;
  /** The acceptance queue id it went out under ('' while pending). */
  qid: string;
  /** Per recipient: the reply it got here ("250 2.0.0 delivered", "250 2.0.0 queued") and whether it was delivered. */
  deliveryStatus: Record<string, { smtpReply: string; delivered: 'queued' | 'yes' | 'no' | 'unknown' }>;
  /** pending: waits for sendAt and may be canceled; sending: being sent now; final: sent (or failed); canceled. */
  undoStatus: 'pending' | 'sending' | 'final' | 'canceled';
  /** The client that asked for it (for the Received field when it is sent later). */
  clientIp: string;
}

export interface SubmissionRepo {
  /** `content`: for a pending submission, the message as it will be sent (the email may be gone by then). */
  add(record: Omit<SubmissionRecord, 'id'>, content?: Buffer): Promise<SubmissionRecord>;
  /** The content kept with a pending submission. */
  content(id: number): Promise<Buffer | undefined>;
  /** The account's submissions, all or those with the ids given, oldest first. */
  list(accountId: number, ids?: number[]): Promise<SubmissionRecord[]>;
  /** The account's last submission change number (0 for none): the EmailSubmission state. */
  seq(accountId: number): Promise<number>;
  /** Submissions made or changed after change number `seq`, with which of the two it was. */
  changedSince(accountId: number, seq: number): Promise<Array<{ id: number; created: boolean; seq: number }>>;
  /** Removes the account's submissions with these ids (the record only: the mail is sent); returns those removed. */
  remove(accountId: number, ids: number[]): Promise<number[]>;
  /** Pending submissions whose sendAt has come, oldest first, at most `limit`. */
  due(now: Date, limit: number): Promise<SubmissionRecord[]>;
  /** Takes a pending submission to send it (pending → sending); false when it is no longer pending (canceled). */
  claim(id: number): Promise<boolean>;
  /** A submission being sent goes back to waiting, until `at` (a temporary failure). */
  retry(id: number, at: Date): Promise<void>;
  /** Every submission left "sending" (the server stopped while sending) waits again; returns how many. */
  unclaimAll(): Promise<number>;
  /** A submission being sent is done: final, with its queue id and outcome; its kept content dropped. */
  finish(id: number, outcome: { qid: string; deliveryStatus: SubmissionRecord['deliveryStatus'] }): Promise<void>;
  /** Cancels the account's pending submission; false when it is not pending (sent or canceled already). */
  cancel(accountId: number, id: number): Promise<boolean>;
}

/**
 * A JMAP PushSubscription (RFC 8620 §7.2): where the server POSTs a StateChange when the account
 * changes, once the client has echoed the verification code the server sent there.
 */
export interface PushSubscriptionRecord {
  id: number;
  accountId: number;
  deviceClientId: string;
  url: string;
  /** RFC 8291 message encryption: the client's P-256 public key and auth secret (base64url); null for none. */
  keys: { p256dh: string; auth: string } | null;
  /** The code sent in the PushVerification; nothing else is pushed until the client sets it. */
  verificationCode: string;
  verified: boolean;
  expires: Date;
  /** The types whose changes are pushed; null for all. */
  types: string[] | null;
}

export interface PushSubscriptionRepo {
  /** Adds a subscription unless the account has `maxPerAccount` already (undefined then). */
  add(record: Omit<PushSubscriptionRecord, 'id'>, maxPerAccount: number): Promise<PushSubscriptionRecord | undefined>;
  /** The account's subscriptions, all or those with the ids given, oldest first. */
  list(accountId: number, ids?: number[]): Promise<PushSubscriptionRecord[]>;
  /** Changes the account's subscription; false when it has none with that id. */
  update(
    accountId: number,
    id: number,
    patch: Partial<Pick<PushSubscriptionRecord, 'verified' | 'expires' | 'types'>>,
  ): Promise<boolean>;
  /** Removes the account's subscriptions with these ids; returns those removed. */
  remove(accountId: number, ids: number[]): Promise<number[]>;
  /** Every verified subscription not expired at `now`, of every account. */
  active(now: Date): Promise<PushSubscriptionRecord[]>;
  /** Removes the subscriptions expired at `now`; returns how many. */
  expire(now: Date): Promise<number>;
}

/** A sending identity of an account (JMAP Identity, RFC 8621 §6): an address it owns, a name and signatures. */
export interface IdentityRecord {
  id: number;
  accountId: number;
  email: string;
  name: string;
  replyTo: Array<{ name: string | null; email: string }> | null;
  bcc: Array<{ name: string | null; email: string }> | null;
  textSignature: string;
  htmlSignature: string;
  /** The account's own address, made with the account: it cannot be removed. */
  isDefault: boolean;
}

export interface IdentityRepo {
  /** The account's identities, its default one first made when it has none (`address`). */
  list(accountId: number, address: string): Promise<IdentityRecord[]>;
  /** Adds an identity unless the account has `max` already (undefined then). */
  add(record: Omit<IdentityRecord, 'id' | 'isDefault'>, max: number): Promise<IdentityRecord | undefined>;
  /** Changes an identity of the account (not its address); false when it has none with that id. */
  update(
    accountId: number,
    id: number,
    patch: Partial<Pick<IdentityRecord, 'name' | 'replyTo' | 'bcc' | 'textSignature' | 'htmlSignature'>>,
  ): Promise<boolean>;
  /** Removes an identity of the account that is not its default; false otherwise. */
  remove(accountId: number, id: number): Promise<boolean>;
  /** The account's last identity change number (0 for none): the Identity state. */
  seq(accountId: number): Promise<number>;
  /** Identities made, changed or removed after change number `seq`, in the order changed, with their change numbers. */
  changedSince(
    accountId: number,
    seq: number,
  ): Promise<Array<{ id: number; change: 'created' | 'updated' | 'destroyed'; seq: number }>>;
}
