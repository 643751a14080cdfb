/** Store contract, administration: domain limits, admins and their domains, API tokens, the audit log. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function adminContract(withStore: WithStore): void {
  describe('administration', () => {
    it('keeps domain limits and counts what they bound', () => withStore(limits));
    it('keeps admins with their domains; a removed domain or admin takes the grants and tokens with it', () =>
      withStore(admins));
    it('keeps the audit log newest first, filtered by domain and paged by id', () => withStore(audit));
    it('keeps app passwords per account by hash, and forgets them with the account', () => withStore(appPasswords));
    it('adds hourly counters, replaces gauges, reads a range and prunes old hours', () => withStore(metrics));
  });
}

async function limits(store: Store): Promise<void> {
  await account(store, 'ann@example.com');
  await store.accounts.setQuota('ann@example.com', 1000);
  await store.accounts.add({ address: 'bob@example.com', passwordHash: 'x', quotaBytes: 500 });
  await store.aliases.add('info@example.com', ['ann@example.com', 'bob@example.com']);
  await store.aliases.add('@example.com', ['ann@example.com']);
  assert.deepEqual((await store.domains.get('example.com'))!.limits, {
    maxAccounts: 0,
    maxAliases: 0,
    maxQuotaBytes: 0,
    defaultQuotaBytes: 0,
  });
  const set = { maxAccounts: 5, maxAliases: 10, maxQuotaBytes: 10_000, defaultQuotaBytes: 100 };
  assert.equal(await store.domains.setLimits('example.com', set), true);
  assert.equal(await store.domains.setLimits('nowhere.example', set), false);
  assert.deepEqual((await store.domains.get('example.com'))!.limits, set);
  assert.equal(await store.domains.aliasCount('example.com'), 2);
  assert.equal(await store.domains.quotaTotal('example.com'), 1500);
}

async function admins(store: Store): Promise<void> {
  await store.domains.add('a.example');
  await store.domains.add('b.example');
  const root = await store.admins.add({ address: 'root@admin.example', passwordHash: 'h', isSuper: true, domains: [] });
  assert.equal(root.isSuper, true);
  const dom = await store.admins.add({
    address: 'dom@a.example',
    passwordHash: 'h',
    isSuper: false,
    domains: ['b.example', 'a.example'],
  });
  assert.deepEqual(dom.domains, ['a.example', 'b.example']);
  await assert.rejects(
    store.admins.add({ address: 'dom@a.example', passwordHash: 'h', isSuper: false, domains: [] }),
    (e) => isMailError(e, 'ALREADY_EXISTS'),
  );
  await assert.rejects(
    store.admins.add({ address: 'x@a.example', passwordHash: 'h', isSuper: false, domains: ['c.example'] }),
    (e) => isMailError(e, 'DOMAIN_NOT_FOUND'),
  );
  assert.equal(await store.admins.get('x@a.example'), undefined); // the failed add left nothing
  assert.equal(await store.admins.setPassword('dom@a.example', 'h2'), true);
  assert.equal((await store.admins.get('dom@a.example'))!.passwordHash, 'h2');
  await store.domains.remove('b.example');
  assert.deepEqual((await store.admins.get('dom@a.example'))!.domains, ['a.example']);
  const token = {
    id: 't1',
    secretHash: 's',
    admin: 'dom@a.example',
    name: 'script',
    scopes: ['read'],
    expiresAt: new Date(Date.now() + 60_000),
    createdAt: new Date(),
  };
  await store.apiTokens.add(token);
  assert.deepEqual(await store.apiTokens.get('t1'), token);
  assert.deepEqual(
    (await store.apiTokens.list('dom@a.example')).map((t) => t.id),
    ['t1'],
  );
  assert.deepEqual(
    (await store.admins.list()).map((a) => a.address),
    ['dom@a.example', 'root@admin.example'],
  );
  assert.equal(await store.admins.setTotp('dom@a.example', { secret: null, pending: 'ABC' }), true);
  assert.equal((await store.admins.get('dom@a.example'))!.totpPending, 'ABC');
  const at = new Date();
  const session = { id: 's1', secretHash: 'h', admin: 'dom@a.example', csrf: 'c', createdAt: at, expiresAt: at };
  await store.adminSessions.add(session);
  await store.adminSessions.add({ ...session, id: 's2', expiresAt: new Date(at.getTime() + 60_000) });
  assert.deepEqual(await store.adminSessions.get('s1'), session);
  assert.equal(await store.adminSessions.removeExpired(at), 1);
  assert.equal(await store.adminSessions.get('s1'), undefined);
  assert.equal(await store.admins.remove('dom@a.example'), true);
  assert.equal(await store.adminSessions.get('s2'), undefined); // went with its admin
  assert.equal(await store.apiTokens.get('t1'), undefined);
  assert.equal(await store.apiTokens.remove('t1'), false);
}

async function audit(store: Store): Promise<void> {
  const base = { actor: 'root', via: 'api', remote: '127.0.0.1', before: null };
  const first = await store.audit.add({
    ...base,
    action: 'domain.add',
    target: 'a.example',
    domain: 'a.example',
    after: { name: 'a.example' },
  });
  await store.audit.add({ ...base, action: 'domain.add', target: 'b.example', domain: 'b.example', after: null });
  const third = await store.audit.add({ ...base, action: 'admin.add', target: 'x', domain: null, after: null });
  assert.deepEqual(first.after, { name: 'a.example' });
  assert.ok(first.at instanceof Date);
  assert.deepEqual(
    (await store.audit.list({ limit: 10 })).map((e) => e.target),
    ['x', 'b.example', 'a.example'],
  );
  assert.deepEqual(
    (await store.audit.list({ limit: 10, domains: ['a.example'] })).map((e) => e.id),
    [first.id],
  );
  assert.deepEqual(
    (await store.audit.list({ limit: 1, before: third.id })).map((e) => e.target),
    ['b.example'],
  );
}

async function appPasswords(store: Store): Promise<void> {
  const ann = await account(store, 'ann@example.com');
  const bob = await account(store, 'bob@example.com');
  const phone = await store.appPasswords.add(ann.id, 'phone', 'h1');
  await store.appPasswords.add(ann.id, 'laptop', 'h2');
  assert.equal(phone.name, 'phone');
  assert.deepEqual(
    (await store.appPasswords.list(ann.id)).map((a) => a.name),
    ['phone', 'laptop'],
  );
  assert.equal((await store.appPasswords.find(ann.id, 'h1'))?.id, phone.id);
  assert.equal(await store.appPasswords.find(bob.id, 'h1'), undefined);
  assert.equal(await store.appPasswords.remove(bob.id, phone.id), false); // not Bob's
  assert.equal(await store.appPasswords.remove(ann.id, phone.id), true);
  assert.equal(await store.appPasswords.find(ann.id, 'h1'), undefined);
  await store.accounts.remove('ann@example.com');
  assert.deepEqual(await store.appPasswords.list(ann.id), []);
}

async function metrics(store: Store): Promise<void> {
  await store.metrics.record({
    add: [{ hour: 10, name: 'received', value: 2 }],
    set: [{ hour: 10, name: 'queue', value: 5 }],
  });
  await store.metrics.record({
    add: [{ hour: 10, name: 'received', value: 3 }],
    set: [{ hour: 10, name: 'queue', value: 1 }],
  });
  await store.metrics.record({ add: [{ hour: 12, name: 'sent', value: 1 }], set: [] });
  assert.deepEqual(await store.metrics.range(10, 11), [
    { hour: 10, name: 'queue', value: 1 },
    { hour: 10, name: 'received', value: 5 },
  ]);
  assert.equal(await store.metrics.prune(11), 2);
  assert.deepEqual(await store.metrics.range(0, 100), [{ hour: 12, name: 'sent', value: 1 }]);
}
