/**
 * The learning classifier's state in SQLite: feature counts per scope (0 = global, else an account),
 * the scope's totals, and the digests of learnt messages. A batch of learnt messages is one
 * transaction: the digests checked, their counts added (or moved from the other class) feature by
 * feature, the scope trimmed to its size.
 */
import type { ClassifierLearnItem, ClassifierLearnOutcome, ClassifierRepo, ClassifierTotals } from '../index.js';
import { GlobalCounts, RecentTotals, type ScopeTotals } from './classifier-cache.js';
import type { Db, Exec } from './engine.js';

/** The global model's scope, whose counts are also held in memory (classifier-cache.ts). */
const GLOBAL = 0;
/** One in-memory table (and recent totals) per database, shared by the repositories over it. */
const caches = new WeakMap<Db, { global: GlobalCounts; totals: RecentTotals }>();

type TotalsRow = ScopeTotals & { scope: number };

type Counted = { totals: ClassifierTotals; features: Map<number, ClassifierTotals> };

interface CountRow {
  hash: number;
  spam: number;
  ham: number;
}

export class Classifier implements ClassifierRepo {
  private readonly global: GlobalCounts;
  private readonly recent: RecentTotals;

  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
  ) {
    let cache = caches.get(db);
    if (!cache) caches.set(db, (cache = { global: new GlobalCounts(db, exec, GLOBAL), totals: new RecentTotals() }));
    this.global = cache.global;
    this.recent = cache.totals;
  }

  counts(scopes: number[], features: number[]): Promise<Counted> {
    // From memory alone when the totals were read lately and every count needed is in the table.
    const recent = this.recent.get(scopes);
    const fast = recent && this.answer(scopes, features, recent, false);
    if (fast) return Promise.resolve(fast);
    return this.exec(() => {
      const rows = this.db
        .prepare(
          'SELECT scope, spam, ham, features FROM classifier_totals WHERE scope IN (SELECT value FROM json_each(?))',
        )
        .all(JSON.stringify(scopes)) as TotalsRow[];
      this.recent.set(scopes, rows);
      return this.answer(scopes, features, rows, true)!;
    });
  }

  /**
   * The totals summed and the features' counts: the global ones from memory when the table is
   * current, SQLite for the rest (only for scopes that have learnt something) when `mayQuery`;
   * undefined when SQLite would be needed and may not be asked.
   */
  private answer(scopes: number[], features: number[], rows: TotalsRow[], mayQuery: boolean): Counted | undefined {
    const totals = { spam: 0, ham: 0 };
    for (const r of rows) {
      totals.spam += r.spam;
      totals.ham += r.ham;
    }
    const found = new Map<number, ClassifierTotals>();
    if (features.length === 0) return { totals, features: found };
    const table = scopes.includes(GLOBAL) ? this.global.current(rows.find((r) => r.scope === GLOBAL)) : undefined;
    const rest = rows.filter((r) => r.spam + r.ham > 0 && !(table && r.scope === GLOBAL)).map((r) => r.scope);
    if (rest.length > 0 && !mayQuery) return undefined;
    if (table)
      for (const f of features) {
        const c = table.get(f);
        if (c) found.set(f, c);
      }
    if (rest.length === 0) return { totals, features: found };
    const counted = this.db
      .prepare(
        `SELECT hash, SUM(spam) AS spam, SUM(ham) AS ham FROM classifier_features
         WHERE scope IN (SELECT value FROM json_each(?)) AND hash IN (SELECT value FROM json_each(?)) GROUP BY hash`,
      )
      .all(JSON.stringify(rest), JSON.stringify(features)) as CountRow[];
    for (const r of counted) {
      const c = found.get(r.hash);
      found.set(r.hash, { spam: r.spam + (c?.spam ?? 0), ham: r.ham + (c?.ham ?? 0) });
    }
    return { totals, features: found };
  }

  learn(scopes: number[], items: ClassifierLearnItem[], maxFeatures: number): Promise<ClassifierLearnOutcome[]> {
    return this.exec(() => {
      const totalsOf = this.db.prepare('SELECT spam, ham, features FROM classifier_totals WHERE scope = ?');
      const nested = this.db.inTransaction;
      let global: Parameters<GlobalCounts['learnt']> | undefined;
      const outcomes = this.db
        .transaction(() => {
          const outcomes: ClassifierLearnOutcome[] = items.map(() => 'already');
          for (const scope of scopes) {
            const before = scope === GLOBAL ? (totalsOf.get(scope) as ScopeTotals | undefined) : undefined;
            const done = this.learnIn(scope, items, maxFeatures);
            if (scope === GLOBAL)
              global = [before, totalsOf.get(scope) as ScopeTotals | undefined, done.deltas, done.trimmed];
            done.outcomes.forEach((o, i) => {
              if (o === 'relearnt' || (o === 'learnt' && outcomes[i] === 'already')) outcomes[i] = o;
            });
          }
          return outcomes;
        })
        .immediate();
      // Committed: the in-memory global counts follow (inside a caller's transaction, which may
      // still roll back, they are dropped instead).
      this.recent.forget(scopes);
      if (global) {
        if (nested) this.global.invalidate();
        else this.global.learnt(...global);
      }
      return outcomes;
    });
  }

  /**
   * One scope: each message's change to the counts (taken back from the class it was learnt as
   * before, added to its class) summed per feature in memory, then written with one UPDATE of the
   * features present and one INSERT of the new ones.
   */
  private learnIn(
    scope: number,
    items: ClassifierLearnItem[],
    maxFeatures: number,
  ): { outcomes: ClassifierLearnOutcome[]; deltas: Map<number, [number, number]>; trimmed: number[] } {
    const learntAs = this.db.prepare('SELECT is_spam FROM classifier_learnt WHERE scope = ? AND digest = ?').pluck();
    const state = new Map<string, number | undefined>();
    const deltas = new Map<number, [number, number]>();
    const totals: [number, number] = [0, 0];
    const add = (features: number[], column: 0 | 1, by: number) => {
      for (const f of features) {
        let d = deltas.get(f);
        if (!d) deltas.set(f, (d = [0, 0]));
        d[column] += by;
      }
      totals[column] += by;
    };
    const outcomes = items.map((item): ClassifierLearnOutcome => {
      const isSpam = item.as === 'spam' ? 1 : 0;
      const before = state.has(item.digest)
        ? state.get(item.digest)
        : (learntAs.get(scope, item.digest) as number | undefined);
      if (before === isSpam) return 'already';
      // Features trimmed away since it was learnt are not taken back (their counts are gone).
      if (before !== undefined) add(item.features, before === 1 ? 0 : 1, -1);
      add(item.features, isSpam ? 0 : 1, 1);
      state.set(item.digest, isSpam);
      return before === undefined ? 'learnt' : 'relearnt';
    });
    if (state.size === 0) return { outcomes, deltas, trimmed: [] };
    const now = Date.now();
    // Statement by statement: SQLite plans an UPDATE … FROM json_each as a scan of the table.
    const update = this.db.prepare(
      'UPDATE classifier_features SET spam = MAX(spam + ?, 0), ham = MAX(ham + ?, 0), learnt_at = ? WHERE scope = ? AND hash = ?',
    );
    const insert = this.db.prepare(
      'INSERT INTO classifier_features (scope, hash, spam, ham, learnt_at) VALUES (?, ?, ?, ?, ?)',
    );
    let inserted = 0;
    for (const [hash, [spam, ham]] of deltas) {
      if (update.run(spam, ham, now, scope, hash).changes > 0 || (spam <= 0 && ham <= 0)) continue;
      insert.run(scope, hash, Math.max(spam, 0), Math.max(ham, 0), now);
      inserted++;
    }
    this.db.prepare('INSERT INTO classifier_totals (scope) VALUES (?) ON CONFLICT (scope) DO NOTHING').run(scope);
    this.db
      .prepare(
        'UPDATE classifier_totals SET spam = MAX(spam + ?, 0), ham = MAX(ham + ?, 0), features = features + ? WHERE scope = ?',
      )
      .run(totals[0], totals[1], inserted, scope);
    const record = this.db.prepare(
      'INSERT INTO classifier_learnt (scope, digest, is_spam, learnt_at) VALUES (?, ?, ?, ?) ON CONFLICT (scope, digest) DO UPDATE SET is_spam = excluded.is_spam, learnt_at = excluded.learnt_at',
    );
    for (const [digest, isSpam] of state) record.run(scope, digest, isSpam, now);
    return { outcomes, deltas, trimmed: this.trim(scope, maxFeatures) };
  }

  /** Drops features beyond the bound: the least seen first (most of a vocabulary is seen once), the oldest among equals; returns their hashes. */
  private trim(scope: number, maxFeatures: number): number[] {
    const count = this.db
      .prepare('SELECT features FROM classifier_totals WHERE scope = ?')
      .pluck()
      .get(scope) as number;
    if (count <= maxFeatures) return [];
    // A tenth more than needed, so that trimming runs once per many messages, not on each.
    const excess = count - maxFeatures + Math.floor(maxFeatures / 10);
    const removed = this.db
      .prepare(
        `DELETE FROM classifier_features WHERE scope = ? AND hash IN (
           SELECT hash FROM classifier_features WHERE scope = ? ORDER BY spam + ham, learnt_at LIMIT ?) RETURNING hash`,
      )
      .pluck()
      .all(scope, scope, excess) as number[];
    this.db.prepare('UPDATE classifier_totals SET features = features - ? WHERE scope = ?').run(removed.length, scope);
    return removed;
  }

  stats(scope: number): Promise<ClassifierTotals & { features: number }> {
    return this.exec(
      () =>
        (this.db.prepare('SELECT spam, ham, features FROM classifier_totals WHERE scope = ?').get(scope) as
          (ClassifierTotals & { features: number }) | undefined) ?? { spam: 0, ham: 0, features: 0 },
    );
  }
}
