/**
 * Mailboxes in SQLite: names unique per account, UIDVALIDITY from the account's counter, the
 * subscription list (names, not mailboxes), and the \Recent claim.
 */
import { MailError } from '../../lib/errors.js';
import type { MailboxRecord, MailboxRepo, SpecialUse } from '../index.js';
import { isUniqueViolation, type Db, type Exec } from './engine.js';
import { nextId } from './messages.js';

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

export class Mailboxes implements MailboxRepo {
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
            'INSERT INTO mailboxes (id, account_id, name, special_use, uid_validity, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(nextId(this.db, 'mailboxes'), accountId, name, options.specialUse ?? null, uidValidity, Date.now());
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
