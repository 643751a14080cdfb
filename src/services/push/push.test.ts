import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../lib/log.js';
import type { PublicPost } from '../../lib/public-https.js';
import type { PushSubscriptionRecord, Store } from '../../store/index.js';
import { MAX_MADE_PER_HOUR, PushSubscriptions } from './index.js';

/** The store's push subscriptions in memory, enough for the service. */
function memoryStore(): Pick<Store, 'pushSubscriptions' | 'changes'> {
  const rows: PushSubscriptionRecord[] = [];
  let next = 1;
  return {
    changes: { subscribe: () => () => undefined },
    pushSubscriptions: {
      add: (r, max) =>
        Promise.resolve(
          rows.filter((x) => x.accountId === r.accountId).length >= max
            ? undefined
            : (rows.push({ ...r, id: next++ }), rows.at(-1)),
        ),
      list: (accountId) => Promise.resolve(rows.filter((r) => r.accountId === accountId)),
      update: () => Promise.resolve(true),
      remove: (accountId, ids) => {
        const gone = rows.filter((r) => r.accountId === accountId && ids.includes(r.id)).map((r) => r.id);
        for (const id of gone)
          rows.splice(
            rows.findIndex((r) => r.id === id),
            1,
          );
        return Promise.resolve(gone);
      },
      active: () => Promise.resolve([]),
      expire: () => Promise.resolve(0),
    },
  };
}

describe('push subscriptions', () => {
  it('lets an account make only so many an hour, however many it destroys meanwhile', async () => {
    const posts: PublicPost[] = [];
    const push = new PushSubscriptions({
      store: memoryStore(),
      state: () => Promise.resolve('1'),
      log: createLogger({ level: 'error' }),
      allowPrivate: false,
      ca: [],
      resolveHost: () => Promise.resolve(['93.184.216.34']),
      post: (p) => (posts.push(p), Promise.resolve({ status: 201 })),
    });
    const input = { deviceClientId: 'd', url: 'https://push.example/x', keys: null, expires: null, types: null };
    for (let i = 0; i < MAX_MADE_PER_HOUR; i++) {
      const made = await push.create(1, input);
      await push.destroy(1, [made.id]);
    }
    await assert.rejects(push.create(1, input), /at most 60 push subscriptions made in an hour/);
    assert.ok(await push.create(2, input), 'another account is not held back');
    await new Promise((r) => setImmediate(r));
    assert.equal(posts.length, MAX_MADE_PER_HOUR + 1, 'one verification per subscription made');
  });
});
