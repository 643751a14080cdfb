import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Coalescer } from './coalesce.js';

it('shares runs among concurrent callers, and covers late callers with a later run', async () => {
  const starts: number[] = [];
  let release!: () => void;
  const c = new Coalescer(async () => {
    starts.push(starts.length);
    await new Promise<void>((r) => (release = r));
  });
  let firstDone = false;
  const first = c.run().then(() => (firstDone = true));
  const late = [c.run(), c.run(), c.run()];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(starts, [0], 'one run at a time');
  release();
  await first;
  assert.ok(firstDone);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(starts, [0, 1], 'the late callers share one second run');
  release();
  await Promise.all(late);
  assert.equal(starts.length, 2);
});
