/**
 * The global classifier model's counts held in memory, so that scoring a message does not look up
 * each of its thousand or so features in SQLite. Most features of a new message were never learnt:
 * an index lookup each cost about 3 µs, a probe of this table well under 0.1 µs.
 *
 * The table is loaded in chunks in the background (scoring uses SQLite meanwhile), then kept up to
 * date by this process's own learning (its deltas and its trims applied after they commit). Another
 * process that learns (`postern spam learn` while the server runs) changes the scope's totals row,
 * which every scoring reads anyway: when it no longer matches what the table reflects, the table is
 * loaded again.
 */
import type { Db, Exec } from './engine.js';

/** The totals row of a scope: its fingerprint. */
export interface ScopeTotals {
  spam: number;
  ham: number;
  features: number;
}

/** How often the table answered and was loaded, in this process (for tests and profiling). */
export const cacheStats = { answered: 0, loads: 0 };

/** Rows read per chunk while loading: a few milliseconds of the event loop each. */
const LOAD_CHUNK = 20_000;

/**
 * Feature counts by 53-bit hash: open addressing over typed arrays, 16 bytes a slot, at most half
 * full (32 MB for a million features). A key is stored plus one, so that 0 marks an empty slot.
 */
export class FeatureTable {
  private keys: Float64Array;
  private spam: Uint32Array;
  private ham: Uint32Array;
  private used = 0;

  constructor(capacity = 1 << 12) {
    this.keys = new Float64Array(capacity);
    this.spam = new Uint32Array(capacity);
    this.ham = new Uint32Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  /** The counts of a feature, or undefined when it has none. */
  get(hash: number): { spam: number; ham: number } | undefined {
    const i = this.find(hash);
    if (this.keys[i] === 0 || this.spam[i]! + this.ham[i]! === 0) return undefined;
    return { spam: this.spam[i]!, ham: this.ham[i]! };
  }

  set(hash: number, spam: number, ham: number): void {
    const i = this.claim(hash);
    this.spam[i] = spam;
    this.ham[i] = ham;
  }

  /** Adds to a feature's counts, neither going below zero (as the store's MAX(count + d, 0)). */
  add(hash: number, spam: number, ham: number): void {
    if (this.keys[this.find(hash)] === 0 && spam <= 0 && ham <= 0) return;
    const i = this.claim(hash);
    this.spam[i] = Math.max(this.spam[i]! + spam, 0);
    this.ham[i] = Math.max(this.ham[i]! + ham, 0);
  }

  private find(hash: number): number {
    const mask = this.keys.length - 1;
    const key = hash + 1;
    let i = (hash >>> 0) & mask;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private claim(hash: number): number {
    let i = this.find(hash);
    if (this.keys[i] !== 0) return i;
    if ((this.used + 1) * 2 > this.keys.length) {
      this.grow();
      i = this.find(hash);
    }
    this.keys[i] = hash + 1;
    this.used++;
    return i;
  }

  private grow(): void {
    const { keys, spam, ham } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.spam = new Uint32Array(keys.length * 2);
    this.ham = new Uint32Array(keys.length * 2);
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === 0) continue;
      const i = this.find(keys[j]! - 1);
      this.keys[i] = keys[j]!;
      this.spam[i] = spam[j]!;
      this.ham[i] = ham[j]!;
    }
  }
}

/** The global scope's table and what it reflects, shared by the repositories over one database. */
export class GlobalCounts {
  private table: FeatureTable | undefined;
  /** The totals row the table reflects; undefined while loading or after an invalidation. */
  private reflects: ScopeTotals | undefined;
  private loading: FeatureTable | undefined;
  /** While loading: the totals row expected at the end, from the start and this process's learning since. */
  private expect: ScopeTotals | undefined;
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly exec: Exec,
    private readonly scope: number,
  ) {}

  /** The table when it reflects `now` (the scope's totals row read in the same statement run), else a load starts. */
  current(now: ScopeTotals | undefined): FeatureTable | undefined {
    if (!now) return undefined;
    if (this.table && this.reflects && same(this.reflects, now)) {
      cacheStats.answered++;
      return this.table;
    }
    if (!this.loading) this.load();
    return undefined;
  }

  /**
   * This process's learning, committed: `before` is the totals row it started from (read inside its
   * transaction), `after` the one it left. Applied when the table reflected `before`; otherwise the
   * table is loaded again.
   */
  learnt(
    before: ScopeTotals | undefined,
    after: ScopeTotals | undefined,
    deltas: Map<number, [number, number]>,
    trimmed: number[],
  ): void {
    const t = this.table ?? this.loading;
    const reflected = this.table ? this.reflects : this.expect;
    if (!t || !reflected || !before || !after || !same(reflected, before)) return this.invalidate();
    for (const [hash, [spam, ham]] of deltas) t.add(hash, spam, ham);
    for (const hash of trimmed) t.set(hash, 0, 0);
    if (this.table) this.reflects = after;
    else this.expect = after;
  }

  /** Forgets the table (a change it cannot follow); the next scoring starts a load. */
  invalidate(): void {
    this.table = undefined;
    this.reflects = undefined;
    this.loading = undefined;
    this.expect = undefined;
    this.generation++;
  }

  /**
   * Reads the scope chunk by chunk in hash order. This process's learning in between is applied to
   * the part loaded and is in the rows still to come. When the totals row at the end is not the one
   * at the start plus that learning, another process learnt meanwhile: the load starts again.
   */
  private load(): void {
    cacheStats.loads++;
    const generation = ++this.generation;
    const table = (this.loading = new FeatureTable());
    const chunk = this.db.prepare(
      'SELECT hash, spam, ham FROM classifier_features WHERE scope = ? AND hash > ? ORDER BY hash LIMIT ?',
    );
    const totals = this.db.prepare('SELECT spam, ham, features FROM classifier_totals WHERE scope = ?');
    void (async () => {
      let after = -1;
      for (;;) {
        const done = await this.exec(() => {
          if (generation !== this.generation) return true;
          if (after === -1) this.expect = totals.get(this.scope) as ScopeTotals | undefined;
          const rows = chunk.all(this.scope, after, LOAD_CHUNK) as Array<{ hash: number; spam: number; ham: number }>;
          for (const r of rows) table.set(r.hash, r.spam, r.ham);
          if (rows.length === LOAD_CHUNK) {
            after = rows[rows.length - 1]!.hash;
            return false;
          }
          const end = totals.get(this.scope) as ScopeTotals | undefined;
          const expected = this.expect;
          this.invalidate();
          if (end && expected && same(end, expected)) {
            this.table = table;
            this.reflects = end;
          }
          return true;
        });
        if (done) return;
      }
    })().catch(() => {
      // The database closed meanwhile: scoring goes on through SQLite.
      if (generation === this.generation) this.invalidate();
    });
  }
}

function same(a: ScopeTotals, b: ScopeTotals): boolean {
  return a.spam === b.spam && a.ham === b.ham && a.features === b.features;
}

/** How long a scope's totals row read from SQLite stands for it: another process's learning shows this late. */
export const TOTALS_FRESH_MS = 1000;

/**
 * The totals rows of the scopes scored lately, so that scoring a message whose counts are all in
 * memory asks SQLite nothing (and does not wait behind a delivery's transaction). This process's
 * learning forgets the scopes it changed.
 */
export class RecentTotals {
  private readonly rows = new Map<number, { row: ScopeTotals | undefined; at: number }>();

  /** The rows of `scopes` (absent: never learnt), when each was read less than TOTALS_FRESH_MS ago. */
  get(scopes: number[]): Array<ScopeTotals & { scope: number }> | undefined {
    const now = Date.now();
    const out: Array<ScopeTotals & { scope: number }> = [];
    for (const scope of scopes) {
      const seen = this.rows.get(scope);
      if (!seen || now - seen.at >= TOTALS_FRESH_MS) return undefined;
      if (seen.row) out.push({ scope, ...seen.row });
    }
    return out;
  }

  set(scopes: number[], rows: Array<ScopeTotals & { scope: number }>): void {
    const at = Date.now();
    // Bounded: one entry per account scored within the last second or so.
    if (this.rows.size > 10_000) this.rows.clear();
    for (const scope of scopes) {
      const row = rows.find((r) => r.scope === scope);
      this.rows.set(scope, { row: row && { spam: row.spam, ham: row.ham, features: row.features }, at });
    }
  }

  forget(scopes: number[]): void {
    for (const scope of scopes) this.rows.delete(scope);
  }
}
