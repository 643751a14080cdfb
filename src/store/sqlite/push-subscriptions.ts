/** JMAP push subscriptions in SQLite (migration 25). */
import type { PushSubscriptionRecord, PushSubscriptionRepo } from '../index.js';
import type { Db, Exec } from './engine.js';

interface Row {
  id: number;
  account_id: number;
  device_client_id: string;
  url: string;
  keys: string | null;
  verification_code: string;
  verified: number;
  expires: number;
  types: string | null;
}

const toRecord = (r: Row): PushSubscriptionRecord => ({
  id: r.id,
  accountId: r.account_id,
  deviceClientId: r.device_client_id,
  url: r.url,
  keys: r.keys === null ? null : (JSON.parse(r.keys) as PushSubscriptionRecord['keys']),
  verificationCode: r.verification_code,
  verified: r.verified === 1,
  expires: new Date(r.expires),
  types: r.types === null ? null : (JSON.parse(r.types) as string[]),
});

const COLUMNS = 'id, account_id, device_client_id, url, keys, verification_code, verified, expires, types';

export class PushSubscriptions implements PushSubscriptionRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  add(s: Omit<PushSubscriptionRecord, 'id'>, maxPerAccount: number): Promise<PushSubscriptionRecord | undefined> {
    return this.exec(() => {
      // One statement: two requests at once cannot both pass the count.
      const info = this.db
        .prepare(
          `INSERT INTO push_subscriptions (account_id, device_client_id, url, keys, verification_code, verified, expires, types)
             SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM push_subscriptions WHERE account_id = ?) < ?`,
        )
        .run(
          s.accountId,
          s.deviceClientId,
          s.url,
          s.keys === null ? null : JSON.stringify(s.keys),
          s.verificationCode,
          s.verified ? 1 : 0,
          s.expires.getTime(),
          s.types === null ? null : JSON.stringify(s.types),
          s.accountId,
          maxPerAccount,
        );
      return info.changes === 1 ? { ...s, id: Number(info.lastInsertRowid) } : undefined;
    });
  }

  list(accountId: number, ids?: number[]): Promise<PushSubscriptionRecord[]> {
    return this.exec(() => {
      const rows = this.db
        .prepare(`SELECT ${COLUMNS} FROM push_subscriptions WHERE account_id = ? ORDER BY id`)
        .all(accountId) as Row[];
      const wanted = ids ? new Set(ids) : undefined;
      return rows.filter((r) => !wanted || wanted.has(r.id)).map(toRecord);
    });
  }

  update(
    accountId: number,
    id: number,
    patch: Partial<Pick<PushSubscriptionRecord, 'verified' | 'expires' | 'types'>>,
  ): Promise<boolean> {
    return this.exec(() => {
      const changes: Array<[string, string | number | null]> = [];
      if (patch.verified !== undefined) changes.push(['verified', patch.verified ? 1 : 0]);
      if (patch.expires !== undefined) changes.push(['expires', patch.expires.getTime()]);
      if (patch.types !== undefined) changes.push(['types', patch.types === null ? null : JSON.stringify(patch.types)]);
      const exists = this.db.prepare('SELECT 1 FROM push_subscriptions WHERE id = ? AND account_id = ?');
      if (!changes.length) return exists.get(id, accountId) !== undefined;
      const sets = changes.map(([column]) => `${column} = ?`).join(', ');
      return (
        this.db
          .prepare(`UPDATE push_subscriptions SET ${sets} WHERE id = ? AND account_id = ?`)
          .run(...changes.map(([, value]) => value), id, accountId).changes === 1
      );
    });
  }

  remove(accountId: number, ids: number[]): Promise<number[]> {
    return this.exec(() => {
      const del = this.db.prepare('DELETE FROM push_subscriptions WHERE id = ? AND account_id = ?');
      return ids.filter((id) => del.run(id, accountId).changes === 1);
    });
  }

  active(now: Date): Promise<PushSubscriptionRecord[]> {
    return this.exec(() =>
      (
        this.db
          .prepare(`SELECT ${COLUMNS} FROM push_subscriptions WHERE verified = 1 AND expires > ? ORDER BY id`)
          .all(now.getTime()) as Row[]
      ).map(toRecord),
    );
  }

  expire(now: Date): Promise<number> {
    return this.exec(
      () => this.db.prepare('DELETE FROM push_subscriptions WHERE expires <= ?').run(now.getTime()).changes,
    );
  }
}
