/** Numbered schema migrations; each runs once, in order, inside one transaction with its version row. */
import { CHANGE_MIGRATIONS } from './migrations-changes.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FIRST: Migration[] = [
  {
    version: 1,
    name: 'directory and mailboxes',
    sql: `
      CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        alias_of INTEGER REFERENCES domains(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        local TEXT NOT NULL,
        address TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        quota_bytes INTEGER NOT NULL DEFAULT 0,
        used_bytes INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        last_uid_validity INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX accounts_domain ON accounts(domain_id);
      CREATE TABLE aliases (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        destination TEXT NOT NULL,
        UNIQUE (source, destination)
      );
      CREATE INDEX aliases_domain ON aliases(domain_id);
      CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        special_use TEXT,
        subscribed INTEGER NOT NULL DEFAULT 1,
        uid_validity INTEGER NOT NULL,
        uid_next INTEGER NOT NULL DEFAULT 1,
        highest_modseq INTEGER NOT NULL DEFAULT 1,
        message_count INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        UNIQUE (account_id, name)
      );
      CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        refs INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        blob_hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        flags TEXT NOT NULL DEFAULT '',
        envelope TEXT,
        body_structure TEXT,
        UNIQUE (mailbox_id, uid)
      );
      CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
      -- Usage and blob references follow the message rows, including rows removed by cascades.
      CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
        INSERT INTO blobs (hash, size, refs) VALUES (NEW.blob_hash, NEW.size, 1)
          ON CONFLICT (hash) DO UPDATE SET refs = refs + 1;
        UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes + NEW.size
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
      END;
      CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
        UPDATE blobs SET refs = refs - 1 WHERE hash = OLD.blob_hash;
        UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes - OLD.size
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
      END;
    `,
  },
  {
    version: 2,
    name: 'per-recipient headers, full-text index, outbound queue',
    sql: `
      -- Return-Path and Delivered-To differ per recipient while the content is stored once.
      ALTER TABLE messages ADD COLUMN header_prefix TEXT NOT NULL DEFAULT '';
      ALTER TABLE blobs ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
      -- One index row per distinct content (rowid = blobs.rowid), shared by every mailbox holding it.
      CREATE VIRTUAL TABLE blob_fts USING fts5(subject, addresses, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
      CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        qid TEXT NOT NULL UNIQUE,
        blob_hash TEXT NOT NULL,
        sender TEXT NOT NULL,
        size INTEGER NOT NULL,
        auth_user TEXT,
        envid TEXT,
        ret TEXT,
        held INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE queue_recipients (
        id INTEGER PRIMARY KEY,
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        recipient TEXT NOT NULL,
        domain TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        notify TEXT,
        orcpt TEXT
      );
      CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt_at);
      CREATE TRIGGER queue_added AFTER INSERT ON queue BEGIN
        INSERT INTO blobs (hash, size, refs) VALUES (NEW.blob_hash, NEW.size, 1)
          ON CONFLICT (hash) DO UPDATE SET refs = refs + 1;
      END;
      CREATE TRIGGER queue_removed AFTER DELETE ON queue BEGIN
        UPDATE blobs SET refs = refs - 1 WHERE hash = OLD.blob_hash;
      END;
    `,
  },
  {
    version: 3,
    name: 'DKIM keys',
    sql: `
      -- The private key is a file in the data directory (0600); the row says where and what is published.
      CREATE TABLE dkim_keys (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        public_key TEXT NOT NULL,
        key_file TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (domain_id, selector)
      );
    `,
  },
  {
    version: 4,
    name: 'outbound delivery state',
    sql: `
      -- A delivery worker claims due recipients with a lease (owner + expiry) it renews while it works;
      -- another process takes them over only once the lease has run out.
      ALTER TABLE queue_recipients ADD COLUMN lease_owner TEXT;
      ALTER TABLE queue_recipients ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE queue_recipients ADD COLUMN done_at INTEGER;
      ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
      ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
      DROP INDEX queue_recipients_due;
      CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt_at) WHERE status = 'pending';
      CREATE INDEX queue_recipients_entry ON queue_recipients(queue_id);
      -- What remote servers said about TLS, for TLS-RPT (RFC 8460) reports.
      CREATE TABLE tls_results (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        policy_domain TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        mx_host TEXT NOT NULL,
        result TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (day, policy_domain, policy_type, mx_host, result)
      );
    `,
  },
  {
    version: 5,
    name: 'stored IMAP envelope text',
    sql: `
      -- FETCH ENVELOPE sends this text as is; NULL (older rows, 8-bit headers) means build it from envelope.
      ALTER TABLE messages ADD COLUMN envelope_wire TEXT;
    `,
  },
  {
    version: 6,
    name: 'sieve scripts and vacation replies',
    sql: `
      -- RFC 5804: named scripts per account, at most one active.
      CREATE TABLE sieve_scripts (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        content TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, name)
      );
      CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(account_id) WHERE active = 1;
      -- RFC 5230 §4.2: one vacation reply per sender and handle within :days.
      CREATE TABLE sieve_responses (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
      );
    `,
  },
  {
    version: 7,
    name: 'when content lost its last reference',
    sql: `
      -- The collector removes content only some time after its last message or queue entry went, so
      -- a session still reading it (a FETCH, a bounce being written) finds it.
      ALTER TABLE blobs ADD COLUMN released_at INTEGER;
      CREATE INDEX blobs_unreferenced ON blobs(released_at) WHERE refs <= 0;
      DROP TRIGGER messages_added;
      DROP TRIGGER messages_removed;
      DROP TRIGGER queue_added;
      DROP TRIGGER queue_removed;
      CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
        INSERT INTO blobs (hash, size, refs) VALUES (NEW.blob_hash, NEW.size, 1)
          ON CONFLICT (hash) DO UPDATE SET refs = refs + 1, released_at = NULL;
        UPDATE mailboxes SET message_count = message_count + 1 WHERE id = NEW.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes + NEW.size
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
      END;
      CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
        UPDATE blobs SET refs = refs - 1, released_at = CASE WHEN refs <= 1 THEN CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) END
          WHERE hash = OLD.blob_hash;
        UPDATE mailboxes SET message_count = message_count - 1 WHERE id = OLD.mailbox_id;
        UPDATE accounts SET used_bytes = used_bytes - OLD.size
          WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
      END;
      CREATE TRIGGER queue_added AFTER INSERT ON queue BEGIN
        INSERT INTO blobs (hash, size, refs) VALUES (NEW.blob_hash, NEW.size, 1)
          ON CONFLICT (hash) DO UPDATE SET refs = refs + 1, released_at = NULL;
      END;
      CREATE TRIGGER queue_removed AFTER DELETE ON queue BEGIN
        UPDATE blobs SET refs = refs - 1, released_at = CASE WHEN refs <= 1 THEN CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) END
          WHERE hash = OLD.blob_hash;
      END;
    `,
  },
  {
    version: 8,
    name: 'full-text vocabulary for substring search',
    sql: `
      CREATE VIRTUAL TABLE blob_fts_vocab USING fts5vocab(blob_fts, row);
    `,
  },
  {
    version: 9,
    name: 'recent messages',
    sql: `
      ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
    `,
  },
  {
    version: 10,
    name: 'subscriptions by name',
    sql: `
      CREATE TABLE subscriptions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
      ) WITHOUT ROWID;
      INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE subscribed = 1;
      ALTER TABLE mailboxes DROP COLUMN subscribed;
    `,
  },
  {
    version: 11,
    name: 'content filter: allow and block lists, quarantine, greylisting',
    sql: `
      CREATE TABLE filter_lists (
        scope TEXT NOT NULL,
        entry TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),
        PRIMARY KEY (scope, entry)
      ) WITHOUT ROWID;
      CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        qid TEXT NOT NULL,
        recipient TEXT NOT NULL,
        recipient_domain TEXT NOT NULL,
        account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        mail_from TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        score REAL,
        content BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX quarantine_expiry ON quarantine (expires_at);
      CREATE INDEX quarantine_domain ON quarantine (recipient_domain, id);
      CREATE TABLE greylist (
        key TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        passes INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX greylist_seen ON greylist (last_seen);
      CREATE TABLE greylist_clients (
        network TEXT PRIMARY KEY,
        passes INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 12,
    name: 'learning classifier',
    sql: `
      -- scope 0 is the global model, any other the account of that id.
      CREATE TABLE classifier_features (
        scope INTEGER NOT NULL,
        hash INTEGER NOT NULL,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0,
        learnt_at INTEGER NOT NULL,
        PRIMARY KEY (scope, hash)
      ) WITHOUT ROWID;
      -- Trimming drops the least seen first (most of a vocabulary is seen once), the oldest among those.
      CREATE INDEX classifier_features_use ON classifier_features(scope, spam + ham, learnt_at);
      CREATE TABLE classifier_totals (
        scope INTEGER PRIMARY KEY,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0,
        features INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE classifier_learnt (
        scope INTEGER NOT NULL,
        digest TEXT NOT NULL,
        is_spam INTEGER NOT NULL,
        learnt_at INTEGER NOT NULL,
        PRIMARY KEY (scope, digest)
      ) WITHOUT ROWID;
      CREATE TRIGGER classifier_account_removed AFTER DELETE ON accounts BEGIN
        DELETE FROM classifier_features WHERE scope = OLD.id;
        DELETE FROM classifier_totals WHERE scope = OLD.id;
        DELETE FROM classifier_learnt WHERE scope = OLD.id;
      END;
    `,
  },
  {
    version: 13,
    name: 'classifier features hashed anew',
    sql: `
      -- Word pairs are now hashed from their words' hashes, and the tokenizer reads more of how a
      -- message was made: counts learnt under the old hashes would match nothing, so learning starts over.
      DELETE FROM classifier_features;
      DELETE FROM classifier_totals;
      DELETE FROM classifier_learnt;
    `,
  },
  {
    version: 14,
    name: 'administration: domain limits, admins, API tokens, audit log',
    sql: `
      ALTER TABLE domains ADD COLUMN max_accounts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE domains ADD COLUMN max_aliases INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE domains ADD COLUMN max_quota_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE domains ADD COLUMN default_quota_bytes INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE admins (
        address TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_super INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE admin_domains (
        admin TEXT NOT NULL REFERENCES admins(address) ON DELETE CASCADE,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        PRIMARY KEY (admin, domain_id)
      );
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        admin TEXT NOT NULL REFERENCES admins(address) ON DELETE CASCADE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX api_tokens_admin ON api_tokens(admin);
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        via TEXT NOT NULL,
        remote TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        domain TEXT,
        before TEXT,
        after TEXT
      );
      CREATE INDEX audit_log_domain ON audit_log(domain, id);
    `,
  },
  {
    version: 15,
    name: 'app passwords',
    sql: `
      CREATE TABLE app_passwords (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX app_passwords_account ON app_passwords(account_id, secret_hash);
    `,
  },
  {
    version: 16,
    name: 'admin sessions and two-factor login',
    sql: `
      ALTER TABLE admins ADD COLUMN totp_secret TEXT;
      ALTER TABLE admins ADD COLUMN totp_pending TEXT;
      CREATE TABLE admin_sessions (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        admin TEXT NOT NULL REFERENCES admins(address) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX admin_sessions_expiry ON admin_sessions(expires_at);
    `,
  },
  {
    version: 17,
    name: 'hourly metrics for the dashboard',
    sql: `
      CREATE TABLE metrics_hourly (
        hour INTEGER NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (hour, name)
      ) WITHOUT ROWID;
    `,
  },
];

export const MIGRATIONS: Migration[] = [...FIRST, ...CHANGE_MIGRATIONS];
