/** An account's emails across its mailboxes by email and thread id (migration 20's indexes). */
import type { EmailRepo, MailboxCounts, MessageColumnsOmitted, MessageRecord } from '../index.js';
import type { Db, Exec } from './engine.js';
import { MESSAGE_COLUMNS, messageColumns, StoredRow, type MessageTuple } from './messages.js';

/** Ids per statement: SQLite binds at most 32,766 parameters. */
const CHUNK = 500;

export class Emails implements EmailRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  byIds(accountId: number, emailIds: number[], omit?: MessageColumnsOmitted): Promise<MessageRecord[]> {
    return this.exec(() =>
      this.chunked(
        emailIds,
        (marks) =>
          `SELECT ${messageColumns(omit)} FROM messages WHERE COALESCE(email_id, id) IN (${marks}) AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
        accountId,
      ),
    );
  }

  inThreads(accountId: number, threadIds: number[]): Promise<MessageRecord[]> {
    return this.exec(() =>
      this.chunked(
        threadIds,
        (marks) =>
          `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE COALESCE(thread_id, email_id, id) IN (${marks}) AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
        accountId,
      ).sort((a, b) => a.internalDate.getTime() - b.internalDate.getTime() || a.emailId - b.emailId),
    );
  }

  list(
    accountId: number,
    options: { mailboxId?: number; omit?: MessageColumnsOmitted } = {},
  ): Promise<MessageRecord[]> {
    return this.exec(() => {
      const where =
        options.mailboxId === undefined
          ? 'mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)'
          : 'mailbox_id = ? AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)';
      const args = options.mailboxId === undefined ? [accountId] : [options.mailboxId, accountId];
      const rows = this.db
        .prepare(
          `SELECT ${messageColumns(options.omit)} FROM messages WHERE ${where} ORDER BY internal_date DESC, COALESCE(email_id, id) DESC`,
        )
        .raw()
        .all(...args) as MessageTuple[];
      return rows.map((t) => new StoredRow(t));
    });
  }

  page(
    accountId: number,
    mailboxId: number,
    offset: number,
    limit: number,
  ): Promise<{ emailIds: number[]; total: number }> {
    return this.exec(() => {
      const owned = this.db
        .prepare('SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?')
        .get(mailboxId, accountId);
      if (!owned) return { emailIds: [], total: 0 };
      const total = this.db
        .prepare('SELECT COUNT(*) FROM messages WHERE mailbox_id = ?')
        .pluck()
        .get(mailboxId) as number;
      const emailIds = this.db
        .prepare(
          'SELECT COALESCE(email_id, id) FROM messages WHERE mailbox_id = ? ORDER BY internal_date DESC, COALESCE(email_id, id) DESC LIMIT ? OFFSET ?',
        )
        .pluck()
        .all(mailboxId, limit, offset) as number[];
      return { emailIds, total };
    });
  }

  counts(accountId: number): Promise<MailboxCounts[]> {
    // Flags are stored space-separated: \Seen is a whole word of them.
    const unseen = "instr(' ' || flags || ' ', ' \\Seen ') = 0";
    return this.exec(
      () =>
        this.db
          .prepare(
            `SELECT mailbox_id AS mailboxId, COUNT(*) AS emails,
                    SUM(CASE WHEN ${unseen} THEN 1 ELSE 0 END) AS unreadEmails,
                    COUNT(DISTINCT COALESCE(thread_id, email_id, id)) AS threads,
                    COUNT(DISTINCT CASE WHEN ${unseen} THEN COALESCE(thread_id, email_id, id) END) AS unreadThreads
               FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?) GROUP BY mailbox_id`,
          )
          .all(accountId) as MailboxCounts[],
    );
  }

  private chunked(ids: number[], sql: (marks: string) => string, accountId: number): MessageRecord[] {
    const out: MessageRecord[] = [];
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const part = unique.slice(i, i + CHUNK);
      const rows = this.db
        .prepare(sql(part.map(() => '?').join(',')))
        .raw()
        .all(...part, accountId) as MessageTuple[];
      for (const t of rows) out.push(new StoredRow(t));
    }
    return out;
  }
}
