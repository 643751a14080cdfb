import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/helpers/tmp.js';
import { cacheStats, FeatureTable, TOTALS_FRESH_MS } from './classifier-cache.js';
import { openSqliteStore } from './index.js';

describe('classifier counts in memory', () => {
  it('keeps counts by 53-bit hash through growth, never below zero, a zero count being absent', () => {
    const t = new FeatureTable(4);
    const keys = [0, 1, 2 ** 53 - 2, 2 ** 52 + 7, ...Array.from({ length: 5000 }, (_, i) => i * 7919 + 2 ** 40)];
    keys.forEach((k, i) => t.set(k, i, 1));
    keys.forEach((k, i) => assert.deepEqual(t.get(k), { spam: i, ham: 1 }, `key ${k}`));
    assert.equal(t.get(3), undefined);
    t.add(1, -5, 2);
    assert.deepEqual(t.get(1), { spam: 0, ham: 3 });
    t.add(99, -1, -1);
    assert.equal(t.get(99), undefined, 'a negative change to an absent feature adds nothing');
    t.set(1, 0, 0);
    assert.equal(t.get(1), undefined);
    assert.equal(t.size, keys.length);
  });

  it('answers as SQLite does while this process learns, trims, and another process learns behind its back (seen within a second)', async () => {
    const dir = tempDir();
    const a = await openSqliteStore(dir);
    const b = await openSqliteStore(dir); // another process: its own connection
    const check = new Database(path.join(dir, 'postern.db'), { readonly: true });
    const truth = check.prepare('SELECT spam, ham FROM classifier_features WHERE scope = 0 AND hash = ?');
    let seed = 21;
    const random = (n: number) => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) % n;
    };
    const message = () => Array.from({ length: 20 }, () => random(400) * 2 ** 31 + random(3));
    try {
      for (let step = 0; step < 300; step++) {
        const who = random(20) === 0 ? b : a;
        const op = random(4);
        if (op < 2) {
          const items = Array.from({ length: 1 + random(3) }, () => ({
            digest: `m${random(60)}`,
            features: message(),
            as: random(2) ? ('spam' as const) : ('ham' as const),
          }));
          // A small bound, so that trimming happens often.
          await who.classifier.learn([0], items, 300);
          // Another process's learning shows once the totals this one read are no longer fresh.
          if (who === b) await new Promise((r) => setTimeout(r, TOTALS_FRESH_MS + 10));
        } else {
          const asked = [...message(), ...message()];
          const got = await a.classifier.counts([0], asked);
          for (const f of asked) {
            const row = truth.get(f) as { spam: number; ham: number } | undefined;
            const want = row && row.spam + row.ham > 0 ? row : undefined;
            assert.deepEqual(
              got.features.get(f),
              want && { spam: want.spam, ham: want.ham },
              `step ${step}, feature ${f}`,
            );
          }
        }
        if (random(3) === 0) await new Promise((r) => setImmediate(r));
      }
      assert.ok(cacheStats.answered > 50, `the table answered ${cacheStats.answered} times`);
      assert.ok(cacheStats.loads > 3, `loaded ${cacheStats.loads} times: again after the other process learnt`);
    } finally {
      check.close();
      await a.close();
      await b.close();
    }
  });
});
