/** Store contract, Sieve: scripts per account with at most one active, automatic-reply records. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function sieveContract(withStore: WithStore): void {
  describe('sieve scripts', () => {
    it('keeps Sieve scripts per account with at most one active, and records auto-replies until they expire', () =>
      withStore(scriptsAndReplies));
  });
}

async function scriptsAndReplies(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  await store.sieve.put(ann.id, 'rules', 'keep;');
  await store.sieve.put(ann.id, 'vacation', 'require "vacation"; vacation "away";');
  await store.sieve.put(bob.id, 'rules', 'discard;');
  assert.equal(await store.sieve.active(ann.id), undefined);
  await store.sieve.setActive(ann.id, 'rules');
  await store.sieve.setActive(ann.id, 'vacation');
  assert.deepEqual(
    (await store.sieve.list(ann.id)).map((s) => [s.name, s.isActive, s.size]),
    [
      ['rules', false, 5],
      ['vacation', true, 36],
    ],
  );
  assert.equal((await store.sieve.active(ann.id))?.name, 'vacation');
  assert.equal(await store.sieve.active(bob.id), undefined, 'accounts are separate');
  // Replacing keeps the active mark; the active script is not deleted.
  await store.sieve.put(ann.id, 'vacation', 'keep;');
  assert.equal((await store.sieve.active(ann.id))?.content, 'keep;');
  assert.equal(await store.sieve.remove(ann.id, 'vacation'), false);
  await assert.rejects(store.sieve.remove(ann.id, 'nope'), (e) => isMailError(e, 'NOT_FOUND'));
  await assert.rejects(store.sieve.rename(ann.id, 'rules', 'vacation'), (e) => isMailError(e, 'ALREADY_EXISTS'));
  await assert.rejects(store.sieve.rename(ann.id, 'nope', 'x'), (e) => isMailError(e, 'NOT_FOUND'));
  await assert.rejects(store.sieve.setActive(ann.id, 'nope'), (e) => isMailError(e, 'NOT_FOUND'));
  await store.sieve.rename(ann.id, 'vacation', 'away');
  assert.equal((await store.sieve.active(ann.id))?.name, 'away', 'renaming keeps the active mark');
  await store.sieve.setActive(ann.id, null);
  assert.equal(await store.sieve.active(ann.id), undefined);
  assert.equal(await store.sieve.remove(ann.id, 'away'), true);
  assert.deepEqual(
    (await store.sieve.list(ann.id)).map((s) => s.name),
    ['rules'],
  );

  const now = new Date('2026-11-27T00:00:00Z');
  const later = (days: number) => new Date(now.getTime() + days * 86_400_000);
  assert.equal(await store.sieve.claimResponse(ann.id, 'k', later(3), now), true);
  assert.equal(await store.sieve.claimResponse(ann.id, 'k', later(3), later(1)), false, 'within :days');
  assert.equal(await store.sieve.claimResponse(bob.id, 'k', later(3), later(1)), true, 'per account');
  assert.equal(await store.sieve.claimResponse(ann.id, 'k', later(6), later(3)), true, 'after expiry');
}
