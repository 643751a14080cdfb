/**
 * Migrations from 18 on (migrations.ts holds 1–17). 18: the account change log that JMAP states and
 * `/changes` and IMAP QRESYNC's expunged UIDs are read from, written by triggers so that every
 * protocol's changes land in it without knowing, and email ids kept by MOVE. 19: threads. See
 * docs/architecture.md, "For JMAP and QRESYNC".
 */
import type { Migration } from './migrations.js';

/** Milliseconds since the epoch, in SQL. */
const NOW = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;

/** The change row of a message change (the email it holds), for the account owning its mailbox, if any. */
const emailChange = (row: 'NEW' | 'OLD', change: string) => `
  INSERT INTO changes (account_id, seq, kind, change, object_id, mailbox_id, uid, at)
    SELECT a.id, a.change_seq, 'email', '${change}', COALESCE(${row}.email_id, ${row}.id), ${row}.mailbox_id, ${row}.uid, ${NOW}
    FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE m.id = ${row}.mailbox_id;`;

/** The change row of a mailbox change, after the account's counter moved. */
const mailboxChange = (accountId: string, mailboxId: string, change: string) => `
  UPDATE accounts SET change_seq = change_seq + 1 WHERE id = ${accountId};
  INSERT INTO changes (account_id, seq, kind, change, object_id, mailbox_id, uid, at)
    SELECT id, change_seq, 'mailbox', '${change}', ${mailboxId}, ${mailboxId}, NULL, ${NOW}
    FROM accounts WHERE id = ${accountId};`;

export const CHANGE_MIGRATIONS: Migration[] = [
  {
    version: 18,
    name: 'account change log, email ids kept by MOVE',
    sql: `
      ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
      -- The email a row holds, when it is not the row's own id: MOVE makes a new row in the target
      -- mailbox that keeps the email (its JMAP id, RFC 8474's EMAILID).
      ALTER TABLE messages ADD COLUMN email_id INTEGER;
      -- One row per change: the account's change number, what changed (an email — a message row —
      -- or a mailbox), how, the mailbox and UID (for an expunge's VANISHED) and when.
      CREATE TABLE changes (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        change TEXT NOT NULL,
        object_id INTEGER NOT NULL,
        mailbox_id INTEGER NOT NULL,
        uid INTEGER,
        at INTEGER NOT NULL,
        PRIMARY KEY (account_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX changes_at ON changes(at);
      DROP TRIGGER messages_added;
      DROP TRIGGER messages_removed;
      -- As in migration 7, with the account's change counter moved in the same UPDATE as its usage.
      CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
        INSERT INTO blobs (hash, size, refs) VALUES (NEW.blob_hash, NEW.size, 1)
          ON CONFLICT (hash) DO UPDATE SET refs = refs + 1, released_at = NULL;
        UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes + NEW.size, change_seq = change_seq + 1
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
        ${emailChange('NEW', 'created')}
      END;
      CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
        UPDATE blobs SET refs = refs - 1, released_at = CASE WHEN refs <= 1 THEN ${NOW} END
          WHERE hash = OLD.blob_hash;
        UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes - OLD.size, change_seq = change_seq + 1
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
        ${emailChange('OLD', 'destroyed')}
      END;
      CREATE TRIGGER messages_flagged AFTER UPDATE OF flags ON messages WHEN NEW.flags IS NOT OLD.flags BEGIN
        UPDATE accounts SET change_seq = change_seq + 1
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
        ${emailChange('NEW', 'updated')}
      END;
      CREATE TRIGGER mailboxes_created AFTER INSERT ON mailboxes BEGIN
        ${mailboxChange('NEW.account_id', 'NEW.id', 'created')}
      END;
      CREATE TRIGGER mailboxes_renamed AFTER UPDATE OF name, special_use ON mailboxes BEGIN
        ${mailboxChange('NEW.account_id', 'NEW.id', 'updated')}
      END;
      CREATE TRIGGER mailboxes_removed AFTER DELETE ON mailboxes BEGIN
        ${mailboxChange('OLD.account_id', 'OLD.id', 'destroyed')}
      END;
      -- A subscription is a mailbox property to JMAP (isSubscribed): the mailbox of that name changed.
      CREATE TRIGGER subscriptions_added AFTER INSERT ON subscriptions
        WHEN EXISTS (SELECT 1 FROM mailboxes WHERE account_id = NEW.account_id AND name = NEW.name) BEGIN
        ${mailboxChange('NEW.account_id', '(SELECT id FROM mailboxes WHERE account_id = NEW.account_id AND name = NEW.name)', 'updated')}
      END;
      CREATE TRIGGER subscriptions_removed AFTER DELETE ON subscriptions
        WHEN EXISTS (SELECT 1 FROM mailboxes WHERE account_id = OLD.account_id AND name = OLD.name) BEGIN
        ${mailboxChange('OLD.account_id', '(SELECT id FROM mailboxes WHERE account_id = OLD.account_id AND name = OLD.name)', 'updated')}
      END;
    `,
  },
  {
    version: 19,
    name: 'threads',
    sql: `
      -- The thread a message is in, when it joined another message's; a message that started its
      -- thread has none here, and its thread is its email id.
      ALTER TABLE messages ADD COLUMN thread_id INTEGER;
      -- The account's Message-IDs with their thread and base subject, for the replies to come.
      CREATE TABLE thread_refs (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        thread_id INTEGER NOT NULL,
        subject TEXT NOT NULL,
        PRIMARY KEY (account_id, message_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 20,
    name: 'emails and threads by id',
    sql: `
      -- JMAP reads emails by their email id and threads by their thread id, across the account.
      CREATE INDEX messages_email ON messages(COALESCE(email_id, id));
      CREATE INDEX messages_thread ON messages(COALESCE(thread_id, email_id, id));
    `,
  },
  {
    version: 21,
    name: 'JMAP email submissions',
    sql: `
      -- What EmailSubmission/get reads back: the email sent, its envelope and each recipient's outcome.
      CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        email_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL,
        identity_id TEXT NOT NULL,
        envelope TEXT NOT NULL,
        send_at INTEGER NOT NULL,
        qid TEXT NOT NULL,
        delivery_status TEXT NOT NULL
      );
      CREATE INDEX submissions_account ON submissions(account_id, id);
    `,
  },
  {
    version: 22,
    name: 'delayed JMAP submissions',
    sql: `
      -- A submission may wait for its send time (RFC 4865 FUTURERELEASE) and be canceled until then.
      ALTER TABLE submissions ADD COLUMN undo_status TEXT NOT NULL DEFAULT 'final';
      ALTER TABLE submissions ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
      -- The account's submission state: numbered when made and when changed (sent, canceled).
      ALTER TABLE submissions ADD COLUMN created_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE submissions ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
      UPDATE submissions SET created_seq = id, changed_seq = id;
      CREATE INDEX submissions_pending ON submissions(send_at) WHERE undo_status = 'pending';
    `,
  },
  {
    version: 23,
    name: 'content of delayed JMAP submissions',
    sql: `
      -- A pending submission keeps the message it will send: the email may be moved or deleted meanwhile.
      ALTER TABLE submissions ADD COLUMN content BLOB;
    `,
  },
  {
    version: 24,
    name: 'ids never given twice',
    sql: `
      -- SQLite gives a new row the largest id plus one: after the newest message or mailbox is removed,
      -- its id would come back, and a JMAP id (or RFC 8474 EMAILID) must never name two objects.
      CREATE TABLE id_counters (name TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO id_counters (name, last) VALUES
        ('messages', (SELECT COALESCE(MAX(id), 0) FROM messages)),
        ('mailboxes', (SELECT COALESCE(MAX(id), 0) FROM mailboxes));
    `,
  },
  {
    version: 25,
    name: 'JMAP push subscriptions',
    sql: `
      -- RFC 8620 §7.2: where to POST the account's state changes, once the client proved it reads them.
      CREATE TABLE push_subscriptions (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        device_client_id TEXT NOT NULL,
        url TEXT NOT NULL,
        keys TEXT,
        verification_code TEXT NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0,
        expires INTEGER NOT NULL,
        types TEXT
      );
      CREATE INDEX push_subscriptions_account ON push_subscriptions(account_id);
    `,
  },
  {
    version: 26,
    name: 'JMAP identities',
    sql: `
      -- RFC 8621 §6: the addresses an account sends as, with a name and signatures. A removed one is
      -- kept (destroyed = 1) so Identity/changes can tell; ids are never given twice (AUTOINCREMENT).
      -- An existing account's own identity keeps the id it had, the account's (JMAP "i<account id>");
      -- SQLite's AUTOINCREMENT counter moves past them.
      CREATE TABLE identities (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        reply_to TEXT,
        bcc TEXT,
        text_signature TEXT NOT NULL DEFAULT '',
        html_signature TEXT NOT NULL DEFAULT '',
        is_default INTEGER NOT NULL DEFAULT 0,
        destroyed INTEGER NOT NULL DEFAULT 0,
        created_seq INTEGER NOT NULL,
        changed_seq INTEGER NOT NULL
      );
      CREATE INDEX identities_account ON identities(account_id, changed_seq);
      INSERT INTO identities (id, account_id, email, is_default, created_seq, changed_seq)
        SELECT id, id, address, 1, 0, 0 FROM accounts;
    `,
  },
  {
    version: 27,
    name: 'the thread of a removed email',
    sql: `
      -- JMAP Thread/changes: an email removed since a state may leave its thread changed or gone,
      -- and its row no longer says which thread that was.
      ALTER TABLE changes ADD COLUMN thread_id INTEGER;
      DROP TRIGGER messages_removed;
      CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
        UPDATE blobs SET refs = refs - 1, released_at = CASE WHEN refs <= 1 THEN ${NOW} END
          WHERE hash = OLD.blob_hash;
        UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes - OLD.size, change_seq = change_seq + 1
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
        INSERT INTO changes (account_id, seq, kind, change, object_id, mailbox_id, uid, at, thread_id)
          SELECT a.id, a.change_seq, 'email', 'destroyed', COALESCE(OLD.email_id, OLD.id), OLD.mailbox_id, OLD.uid, ${NOW},
            COALESCE(OLD.thread_id, OLD.email_id, OLD.id)
          FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE m.id = OLD.mailbox_id;
      END;
    `,
  },
  {
    version: 28,
    name: 'webmail sessions',
    sql: `
      CREATE TABLE mail_sessions (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        idle_until INTEGER NOT NULL,
        -- signed in with the account's password (not an app password): may change its settings
        settings INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX mail_sessions_account ON mail_sessions(account_id);
    `,
  },
];
