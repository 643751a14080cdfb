/** Store contract, content filter: allow and block lists, the quarantine, greylisting state. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function filteringContract(withStore: WithStore): void {
  describe('content filter state', () => {
    it('keeps allow and block lists per scope, one kind per entry', () => withStore(lists));
    it('holds quarantined messages with their content until removed or expired', () => withStore(quarantine));
    it('counts greylisting triplets and client passes, and forgets old ones', () => withStore(greylist));
  });
}

async function lists(store: Store): Promise<void> {
  await store.filterLists.put({ scope: 'example.com', entry: 'spam.example', kind: 'block' });
  await store.filterLists.put({ scope: 'ann@example.com', entry: 'friend@example.org', kind: 'allow' });
  await store.filterLists.put({ scope: 'example.com', entry: 'spam.example', kind: 'allow' });
  await store.filterLists.put({ scope: 'other.example', entry: 'x@y.example', kind: 'block' });
  assert.deepEqual(await store.filterLists.list(['example.com', 'ann@example.com']), [
    { scope: 'ann@example.com', entry: 'friend@example.org', kind: 'allow' },
    { scope: 'example.com', entry: 'spam.example', kind: 'allow' },
  ]);
  assert.equal((await store.filterLists.list()).length, 3);
  assert.deepEqual(await store.filterLists.list([]), []);
  assert.equal(await store.filterLists.remove('example.com', 'spam.example'), true);
  assert.equal(await store.filterLists.remove('example.com', 'spam.example'), false);
}

async function quarantine(store: Store): Promise<void> {
  const ann = await account(store);
  const base = {
    qid: 'Q1',
    accountId: ann.id,
    mailFrom: 's@spam.example',
    subject: 'Buy',
    reason: 'spam score 11',
    score: 11,
    createdAt: new Date('2026-12-01T00:00:00Z'),
    expiresAt: new Date('2026-12-31T00:00:00Z'),
  };
  const held = await store.quarantine.hold({ ...base, recipient: 'ann@example.com', content: Buffer.from('abc') });
  assert.equal(held.size, 3);
  assert.equal(held.recipient, 'ann@example.com');
  const other = await store.quarantine.hold({
    ...base,
    recipient: 'bob@Other.example',
    accountId: null,
    expiresAt: new Date('2026-12-02T00:00:00Z'),
    content: Buffer.from('defg'),
  });
  assert.deepEqual(
    (await store.quarantine.list()).map((q) => q.id),
    [other.id, held.id],
  );
  assert.deepEqual(
    (await store.quarantine.list({ recipientDomain: 'other.example' })).map((q) => q.id),
    [other.id],
  );
  assert.deepEqual(await store.quarantine.content(held.id), Buffer.from('abc'));
  assert.equal(await store.quarantine.expire(new Date('2026-12-10T00:00:00Z')), 1);
  assert.equal(await store.quarantine.get(other.id), undefined);
  assert.equal(await store.quarantine.remove(held.id), true);
  assert.equal(await store.quarantine.content(held.id), undefined);
}

async function greylist(store: Store): Promise<void> {
  const t0 = new Date('2026-12-01T00:00:00Z');
  const t1 = new Date('2026-12-01T00:10:00Z');
  assert.equal(await store.greylist.triplet('k'), undefined);
  await store.greylist.putTriplet('k', { firstSeen: t0, lastSeen: t0, passes: 0 });
  await store.greylist.putTriplet('k', { firstSeen: t0, lastSeen: t1, passes: 1 });
  assert.deepEqual(await store.greylist.triplet('k'), { firstSeen: t0, lastSeen: t1, passes: 1 });
  assert.equal(await store.greylist.clientPasses('192.0.2.0/24'), 0);
  await store.greylist.addClientPass('192.0.2.0/24', t0);
  await store.greylist.addClientPass('192.0.2.0/24', t1);
  assert.equal(await store.greylist.clientPasses('192.0.2.0/24'), 2);
  assert.equal(await store.greylist.expire(new Date('2026-12-01T00:05:00Z')), 0);
  assert.equal(await store.greylist.expire(new Date('2026-12-02T00:00:00Z')), 2);
  assert.equal(await store.greylist.triplet('k'), undefined);
}
