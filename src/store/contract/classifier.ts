/** Store contract, classifier: feature counts per scope, idempotent and reversible learning, a bounded size. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function classifierContract(withStore: WithStore): void {
  describe('classifier', () => {
    it('counts features per scope and sums scopes, learns a message once, and takes it back when it is learnt the other way', () =>
      withStore(learning));
    it('learns a batch in one call: counts summed per feature, a message twice in the batch learnt once, and the other way within the batch', () =>
      withStore(batch));
    it('keeps a scope within its size by dropping the least recently learnt features, and forgets a removed account', () =>
      withStore(bounded));
  });
}

async function learning(store: Store): Promise<void> {
  const ann = await account(store);
  const big = 2 ** 52 + 12345; // hashes use 53 bits
  assert.equal(await learnOne(store, [0, ann.id], 'd1', [1, 2, big], 'spam', 1000), 'learnt');
  assert.equal(await learnOne(store, [0, ann.id], 'd1', [1, 2, big], 'spam', 1000), 'already');
  assert.equal(await learnOne(store, [0], 'd2', [2, 3], 'ham', 1000), 'learnt');
  const both = await store.classifier.counts([0, ann.id], [1, 2, 3, 4, big]);
  assert.deepEqual(both.totals, { spam: 2, ham: 1 });
  assert.deepEqual(
    [...both.features].sort((a, b) => a[0] - b[0]),
    [
      [1, { spam: 2, ham: 0 }],
      [2, { spam: 2, ham: 1 }],
      [3, { spam: 0, ham: 1 }],
      [big, { spam: 2, ham: 0 }],
    ],
  );
  // Learnt the other way: the spam counts go back, the ham counts come.
  assert.equal(await learnOne(store, [0, ann.id], 'd1', [1, 2, big], 'ham', 1000), 'relearnt');
  const global = await store.classifier.counts([0], [1, 2]);
  assert.deepEqual(global.totals, { spam: 0, ham: 2 });
  assert.deepEqual(global.features.get(2), { spam: 0, ham: 2 });
  assert.deepEqual(await store.classifier.stats(ann.id), { spam: 0, ham: 1, features: 3 });
  assert.deepEqual(await store.classifier.stats(999), { spam: 0, ham: 0, features: 0 });
}

async function bounded(store: Store): Promise<void> {
  const ann = await account(store);
  for (let i = 0; i < 5; i++) {
    const features = Array.from({ length: 10 }, (_, k) => i * 100 + k);
    await learnOne(store, [ann.id], `m${i}`, features, i % 2 ? 'ham' : 'spam', 25);
    // Learnt in separate milliseconds, so that "least recently" is well defined.
    const start = Date.now();
    while (Date.now() === start) await new Promise((r) => setImmediate(r));
  }
  const stats = await store.classifier.stats(ann.id);
  assert.ok(stats.features <= 25, `${stats.features} features kept`);
  const recent = await store.classifier.counts([ann.id], [400, 401, 0, 1]);
  assert.ok(recent.features.has(400) && recent.features.has(401), 'the newest are kept');
  assert.ok(!recent.features.has(0), 'the oldest went');
  await store.accounts.remove(ann.address);
  assert.deepEqual(await store.classifier.stats(ann.id), { spam: 0, ham: 0, features: 0 });
}

async function learnOne(
  store: Store,
  scopes: number[],
  digest: string,
  features: number[],
  as: 'spam' | 'ham',
  maxFeatures: number,
): Promise<string> {
  const [outcome] = await store.classifier.learn(scopes, [{ digest, features, as }], maxFeatures);
  return outcome!;
}

async function batch(store: Store): Promise<void> {
  const outcomes = await store.classifier.learn(
    [0],
    [
      { digest: 'a', features: [1, 2], as: 'spam' },
      { digest: 'b', features: [2, 3], as: 'spam' },
      { digest: 'a', features: [1, 2], as: 'spam' },
      { digest: 'c', features: [3], as: 'ham' },
      { digest: 'c', features: [3], as: 'spam' },
    ],
    1000,
  );
  assert.deepEqual(outcomes, ['learnt', 'learnt', 'already', 'learnt', 'relearnt']);
  const counts = await store.classifier.counts([0], [1, 2, 3]);
  assert.deepEqual(counts.totals, { spam: 3, ham: 0 });
  assert.deepEqual(counts.features.get(2), { spam: 2, ham: 0 });
  assert.deepEqual(counts.features.get(3), { spam: 2, ham: 0 });
  assert.deepEqual(await store.classifier.stats(0), { spam: 3, ham: 0, features: 3 });
  // Taken back in a later batch: a feature's count never goes below zero.
  assert.deepEqual(await store.classifier.learn([0], [{ digest: 'b', features: [2, 3], as: 'ham' }], 1000), [
    'relearnt',
  ]);
  assert.deepEqual((await store.classifier.counts([0], [3])).features.get(3), { spam: 1, ham: 1 });
}
