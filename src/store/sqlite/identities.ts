/** JMAP identities in SQLite (migration 26). */
import type { IdentityRecord, IdentityRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

interface Row {
  id: number;
  account_id: number;
  email: string;
  name: string;
  reply_to: string | null;
  bcc: string | null;
  text_signature: string;
  html_signature: string;
  is_default: number;
}

const toRecord = (r: Row): IdentityRecord => ({
  id: r.id,
  accountId: r.account_id,
  email: r.email,
  name: r.name,
  replyTo: r.reply_to === null ? null : (JSON.parse(r.reply_to) as IdentityRecord['replyTo']),
  bcc: r.bcc === null ? null : (JSON.parse(r.bcc) as IdentityRecord['bcc']),
  textSignature: r.text_signature,
  htmlSignature: r.html_signature,
  isDefault: r.is_default === 1,
});

const COLUMNS = 'id, account_id, email, name, reply_to, bcc, text_signature, html_signature, is_default';
/** The account's next change number. */
const NEXT_SEQ = '(SELECT COALESCE(MAX(changed_seq), 0) + 1 FROM identities WHERE account_id = ?)';
const json = (v: unknown) => (v === null ? null : JSON.stringify(v));

export class Identities implements IdentityRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  list(accountId: number, address: string): Promise<IdentityRecord[]> {
    return this.exec(() => {
      const read = () =>
        this.db
          .prepare(
            `SELECT ${COLUMNS} FROM identities WHERE account_id = ? AND destroyed = 0 ORDER BY is_default DESC, id`,
          )
          .all(accountId) as Row[];
      let rows = read();
      if (!rows.some((r) => r.is_default === 1)) {
        this.db
          .prepare(
            `INSERT INTO identities (account_id, email, is_default, created_seq, changed_seq) VALUES (?, ?, 1, ${NEXT_SEQ}, ${NEXT_SEQ})`,
          )
          .run(accountId, address, accountId, accountId);
        rows = read();
      }
      return rows.map(toRecord);
    });
  }

  add(r: Omit<IdentityRecord, 'id' | 'isDefault'>, max: number): Promise<IdentityRecord | undefined> {
    return this.exec(() => {
      const info = this.db
        .prepare(
          `INSERT INTO identities (account_id, email, name, reply_to, bcc, text_signature, html_signature, created_seq, changed_seq)
             SELECT ?, ?, ?, ?, ?, ?, ?, ${NEXT_SEQ}, ${NEXT_SEQ}
             WHERE (SELECT COUNT(*) FROM identities WHERE account_id = ? AND destroyed = 0) < ?`,
        )
        .run(
          r.accountId,
          r.email,
          r.name,
          json(r.replyTo),
          json(r.bcc),
          r.textSignature,
          r.htmlSignature,
          r.accountId,
          r.accountId,
          r.accountId,
          max,
        );
      return info.changes === 1 ? { ...r, id: Number(info.lastInsertRowid), isDefault: false } : undefined;
    });
  }

  update(
    accountId: number,
    id: number,
    patch: Partial<Pick<IdentityRecord, 'name' | 'replyTo' | 'bcc' | 'textSignature' | 'htmlSignature'>>,
  ): Promise<boolean> {
    return this.exec(() => {
      const changes: Array<[string, string | null]> = [];
      if (patch.name !== undefined) changes.push(['name', patch.name]);
      if (patch.replyTo !== undefined) changes.push(['reply_to', json(patch.replyTo)]);
      if (patch.bcc !== undefined) changes.push(['bcc', json(patch.bcc)]);
      if (patch.textSignature !== undefined) changes.push(['text_signature', patch.textSignature]);
      if (patch.htmlSignature !== undefined) changes.push(['html_signature', patch.htmlSignature]);
      const sets = [...changes.map(([column]) => `${column} = ?`), `changed_seq = ${NEXT_SEQ}`].join(', ');
      return (
        this.db
          .prepare(`UPDATE identities SET ${sets} WHERE id = ? AND account_id = ? AND destroyed = 0`)
          .run(...changes.map(([, value]) => value), accountId, id, accountId).changes === 1
      );
    });
  }

  remove(accountId: number, id: number): Promise<boolean> {
    return this.exec(
      () =>
        this.db
          .prepare(
            `UPDATE identities SET destroyed = 1, changed_seq = ${NEXT_SEQ} WHERE id = ? AND account_id = ? AND destroyed = 0 AND is_default = 0`,
          )
          .run(accountId, id, accountId).changes === 1,
    );
  }

  seq(accountId: number): Promise<number> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT MAX(changed_seq) FROM identities WHERE account_id = ?').pluck().get(accountId) as
          number | null) ?? 0,
    );
  }

  changedSince(
    accountId: number,
    seq: number,
  ): Promise<Array<{ id: number; change: 'created' | 'updated' | 'destroyed'; seq: number }>> {
    return this.exec(() =>
      (
        this.db
          .prepare(
            'SELECT id, created_seq > ? AS created, destroyed, changed_seq AS seq FROM identities WHERE account_id = ? AND changed_seq > ? ORDER BY changed_seq',
          )
          .all(seq, accountId, seq) as Array<{ id: number; created: number; destroyed: number; seq: number }>
      ).flatMap((r) => {
        // Made and removed since: the client never saw it.
        if (r.destroyed && r.created) return [];
        return [
          { id: r.id, change: r.destroyed ? 'destroyed' : r.created ? 'created' : 'updated', seq: r.seq },
        ] as const;
      }),
    );
  }
}
