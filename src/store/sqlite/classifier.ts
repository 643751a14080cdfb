/**
 * The learning classifier's state in SQLite: feature counts per scope (0 = global, else an account),
 * the scope's totals, and the digests of learnt messages. A learnt message is one transaction: the
 * digest checked, its counts added (or moved from the other class), the scope trimmed to its size.
 */
import type { ClassifierRepo, ClassifierTotals } from '../index.js';
import type { Db, Exec } from './engine.js';

interface CountRow {
  hash: number;
  spam: number;
  ham: number;
}

export class Classifier implements ClassifierRepo {
  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {}

  counts(
    scopes: number[],
    features: number[],
  ): Promise<{ totals: ClassifierTotals; features: Map<number, ClassifierTotals> }> {
    return this.exec(() => {
      const scopeList = JSON.stringify(scopes);
      const totals = this.db
        .prepare(
          'SELECT COALESCE(SUM(spam), 0) AS spam, COALESCE(SUM(ham), 0) AS ham FROM classifier_totals WHERE scope IN (SELECT value FROM json_each(?))',
        )
        .get(scopeList) as ClassifierTotals;
      const rows = this.db
        .prepare(
          `SELECT hash, SUM(spam) AS spam, SUM(ham) AS ham FROM classifier_features
           WHERE scope IN (SELECT value FROM json_each(?)) AND hash IN (SELECT value FROM json_each(?)) GROUP BY hash`,
        )
        .all(scopeList, JSON.stringify(features)) as CountRow[];
      return { totals, features: new Map(rows.map((r) => [r.hash, { spam: r.spam, ham: r.ham }])) };
    });
  }

  learn(
    scopes: number[],
    digest: string,
    features: number[],
    as: 'spam' | 'ham',
    maxFeatures: number,
  ): Promise<'learnt' | 'already' | 'relearnt'> {
    return this.exec(() =>
      this.db.transaction(() => {
        let outcome: 'learnt' | 'already' | 'relearnt' = 'already';
        for (const scope of scopes) {
          const done = this.learnIn(scope, digest, features, as, maxFeatures);
          if (done === 'relearnt' || (done === 'learnt' && outcome === 'already')) outcome = done;
        }
        return outcome;
      })(),
    );
  }

  private learnIn(
    scope: number,
    digest: string,
    features: number[],
    as: 'spam' | 'ham',
    maxFeatures: number,
  ): 'learnt' | 'already' | 'relearnt' {
    const isSpam = as === 'spam' ? 1 : 0;
    const before = this.db
      .prepare('SELECT is_spam FROM classifier_learnt WHERE scope = ? AND digest = ?')
      .pluck()
      .get(scope, digest) as number | undefined;
    if (before === isSpam) return 'already';
    const now = Date.now();
    const list = JSON.stringify(features);
    this.db.prepare('INSERT INTO classifier_totals (scope) VALUES (?) ON CONFLICT (scope) DO NOTHING').run(scope);
    if (before !== undefined) {
      // Taken back from the class it was learnt as; features trimmed away since are not counted again.
      const column = before === 1 ? 'spam' : 'ham';
      this.db
        .prepare(
          `UPDATE classifier_features SET ${column} = MAX(${column} - 1, 0)
           WHERE scope = ? AND hash IN (SELECT value FROM json_each(?))`,
        )
        .run(scope, list);
      this.db.prepare(`UPDATE classifier_totals SET ${column} = MAX(${column} - 1, 0) WHERE scope = ?`).run(scope);
    }
    const column = isSpam ? 'spam' : 'ham';
    const inserted = this.db
      .prepare(
        `SELECT COUNT(*) FROM json_each(?)
         WHERE NOT EXISTS (SELECT 1 FROM classifier_features WHERE scope = ? AND hash = value)`,
      )
      .pluck()
      .get(list, scope) as number;
    this.db
      .prepare(
        `INSERT INTO classifier_features (scope, hash, ${column}, learnt_at)
         SELECT ?, value, 1, ? FROM json_each(?) WHERE true
         ON CONFLICT (scope, hash) DO UPDATE SET ${column} = ${column} + 1, learnt_at = excluded.learnt_at`,
      )
      .run(scope, now, list);
    this.db
      .prepare(`UPDATE classifier_totals SET ${column} = ${column} + 1, features = features + ? WHERE scope = ?`)
      .run(inserted, scope);
    this.db
      .prepare(
        'INSERT INTO classifier_learnt (scope, digest, is_spam, learnt_at) VALUES (?, ?, ?, ?) ON CONFLICT (scope, digest) DO UPDATE SET is_spam = excluded.is_spam, learnt_at = excluded.learnt_at',
      )
      .run(scope, digest, isSpam, now);
    this.trim(scope, maxFeatures);
    return before === undefined ? 'learnt' : 'relearnt';
  }

  /** Drops features beyond the bound: the least seen first (most of a vocabulary is seen once), the oldest among equals. */
  private trim(scope: number, maxFeatures: number): void {
    const count = this.db
      .prepare('SELECT features FROM classifier_totals WHERE scope = ?')
      .pluck()
      .get(scope) as number;
    if (count <= maxFeatures) return;
    // A tenth more than needed, so that trimming runs once per many messages, not on each.
    const excess = count - maxFeatures + Math.floor(maxFeatures / 10);
    const removed = this.db
      .prepare(
        `DELETE FROM classifier_features WHERE scope = ? AND hash IN (
           SELECT hash FROM classifier_features WHERE scope = ? ORDER BY spam + ham, learnt_at LIMIT ?)`,
      )
      .run(scope, scope, excess).changes;
    this.db.prepare('UPDATE classifier_totals SET features = features - ? WHERE scope = ?').run(removed, scope);
  }

  stats(scope: number): Promise<ClassifierTotals & { features: number }> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT spam, ham, features FROM classifier_totals WHERE scope = ?').get(scope) as
          (ClassifierTotals & { features: number }) | undefined) ?? { spam: 0, ham: 0, features: 0 },
    );
  }
}
