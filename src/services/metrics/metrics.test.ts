import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { openSqliteStore } from '../../store/sqlite/index.js';
import { Metrics } from './index.js';

const HOUR = 3_600_000;

describe('dashboard metrics', () => {
  it('counts per hour, keeps them through a flush, sums days and takes the queue at its largest', async () => {
    const store = await openSqliteStore(mkdtempSync(path.join(tmpdir(), 'postern-metrics-')));
    let now = Date.UTC(2026, 11, 3, 10, 30);
    const metrics = new Metrics({ store, log: createLogger({ level: 'error' }), keepDays: 31, now: () => now });
    metrics.count('received', 2);
    metrics.count('rejected');
    await metrics.flush();
    now += HOUR;
    metrics.count('received'); // not flushed yet: still in the last bucket
    const hours = await metrics.series('hour', 24);
    assert.equal(hours.start, new Date(Date.UTC(2026, 11, 2, 12)).toISOString());
    assert.deepEqual(hours.values.received!.slice(-2), [2, 1]);
    assert.deepEqual(hours.values.rejected!.slice(-2), [1, 0]);
    assert.equal(hours.values.received!.length, 24);
    const days = await metrics.series('day', 30);
    assert.equal(days.values.received!.at(-1), 3);
    assert.equal(days.values.queue!.at(-1), 0);
    // 40 days on, what was counted then (flushed now, to its own hour) is past the 31 days kept: pruned.
    now += 40 * 24 * HOUR;
    await metrics.flush();
    assert.deepEqual(
      (await store.metrics.range(0, Math.floor(now / HOUR))).map((p) => p.name),
      ['queue'],
    );
    await store.close();
  });
});
