/** Store contract, directory: domains and domain aliases, accounts, aliases and catch-alls. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function directoryContract(withStore: WithStore): void {
  describe('directory', () => {
    it('adds, lists and removes domains and domain aliases', () => withStore(domainsAndDomainAliases));
    it('adds accounts only in hosted, non-alias domains and updates them', () => withStore(accountsInHostedDomains));
    it('keeps aliases as one source to many destinations, with catch-alls', () => withStore(aliasesAndCatchAlls));
  });
}

async function domainsAndDomainAliases(store: Store): Promise<void> {
  await store.domains.add('example.com');
  const alias = await store.domains.add('example.net', { aliasOf: 'example.com' });
  assert.equal(alias.aliasOf, 'example.com');
  assert.deepEqual(
    (await store.domains.list()).map((d) => d.name),
    ['example.com', 'example.net'],
  );
  await assert.rejects(store.domains.add('example.com'), (e) => isMailError(e, 'ALREADY_EXISTS'));
  await assert.rejects(store.domains.add('x.org', { aliasOf: 'nope.org' }), (e) => isMailError(e, 'DOMAIN_NOT_FOUND'));
  await assert.rejects(store.domains.add('y.org', { aliasOf: 'example.net' }), (e) => isMailError(e, 'INVALID_INPUT'));
  assert.equal(await store.domains.remove('example.com'), true);
  assert.deepEqual(await store.domains.list(), [], 'removing a domain removes its domain aliases');
  assert.equal(await store.domains.remove('example.com'), false);
}

async function accountsInHostedDomains(store: Store): Promise<void> {
  await assert.rejects(store.accounts.add({ address: 'a@nowhere.org', passwordHash: 'h', quotaBytes: 0 }), (e) =>
    isMailError(e, 'DOMAIN_NOT_FOUND'),
  );
  const a = await account(store);
  assert.equal(a.local, 'ann');
  assert.equal(a.domain, 'example.com');
  assert.equal(a.isEnabled, true);
  await assert.rejects(account(store), (e) => isMailError(e, 'ALREADY_EXISTS'));
  await store.domains.add('example.net', { aliasOf: 'example.com' });
  await assert.rejects(store.accounts.add({ address: 'b@example.net', passwordHash: 'h', quotaBytes: 0 }), (e) =>
    isMailError(e, 'INVALID_INPUT'),
  );
  assert.equal(await store.accounts.setPassword('ann@example.com', 'h2'), true);
  assert.equal(await store.accounts.setQuota('ann@example.com', 1024), true);
  assert.equal(await store.accounts.setEnabled('ann@example.com', false), true);
  const b = (await store.accounts.get('ann@example.com'))!;
  assert.deepEqual([b.passwordHash, b.quotaBytes, b.isEnabled], ['h2', 1024, false]);
  assert.equal((await store.accounts.byId(a.id))?.address, 'ann@example.com');
  assert.equal(await store.domains.accountCount('example.com'), 1);
  assert.equal((await store.accounts.list('example.com')).length, 1);
  assert.equal(await store.accounts.remove('ann@example.com'), true);
  assert.equal(await store.accounts.get('ann@example.com'), undefined);
  assert.equal(await store.accounts.setQuota('ann@example.com', 1), false);
}

async function aliasesAndCatchAlls(store: Store): Promise<void> {
  await store.domains.add('example.com');
  await store.aliases.add('info@example.com', ['ann@example.com', 'bob@example.org']);
  await store.aliases.add('info@example.com', ['bob@example.org', 'cy@example.com']);
  await store.aliases.add('@example.com', ['ann@example.com']);
  assert.deepEqual((await store.aliases.get('info@example.com'))?.destinations, [
    'ann@example.com',
    'bob@example.org',
    'cy@example.com',
  ]);
  assert.deepEqual((await store.aliases.list('example.com')).map((a) => a.source).sort(), [
    '@example.com',
    'info@example.com',
  ]);
  assert.equal(await store.aliases.remove('info@example.com', ['bob@example.org']), true);
  assert.deepEqual((await store.aliases.get('info@example.com'))?.destinations, ['ann@example.com', 'cy@example.com']);
  assert.equal(await store.aliases.remove('info@example.com'), true);
  assert.equal(await store.aliases.get('info@example.com'), undefined);
  await assert.rejects(store.aliases.add('x@nowhere.org', ['a@b.c']), (e) => isMailError(e, 'DOMAIN_NOT_FOUND'));
}
