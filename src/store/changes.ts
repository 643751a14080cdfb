/** The account change log's record and repository (see ChangeLogRepo). */

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
