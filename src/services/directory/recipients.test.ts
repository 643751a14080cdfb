import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { tempDir } from '../../../test/helpers/tmp.js';
import type { Store } from '../../store/index.js';
import { openSqliteStore } from '../../store/sqlite/index.js';
import { ownsAddress, resolveRecipient, type Resolution } from './recipients.js';

let store: Store;
const summary = (r: Resolution) =>
  r.kind === 'ok'
    ? r.destinations
        .map((d) =>
          d.kind === 'local' ? `local:${d.account.address}${d.tag ? `+${d.tag}` : ''}` : `remote:${d.address}`,
        )
        .sort()
    : r.kind;

before(async () => {
  store = await openSqliteStore(path.join(tempDir(), 'data'));
  await store.domains.add('example.com');
  await store.domains.add('example.net', { aliasOf: 'example.com' });
  await store.domains.add('example.org');
  for (const a of ['ann@example.com', 'bob@example.com', 'cy@example.org'])
    await store.accounts.add({ address: a, passwordHash: 'x', quotaBytes: 0 });
  await store.accounts.add({ address: 'off@example.com', passwordHash: 'x', quotaBytes: 0 });
  await store.accounts.setEnabled('off@example.com', false);
  await store.aliases.add('team@example.com', [
    'ann@example.com',
    'bob@example.com',
    'ann@example.com',
    'out@remote.example',
  ]);
  await store.aliases.add('nested@example.com', ['team@example.com', 'cy@example.org']);
  await store.aliases.add('a@example.com', ['b@example.com']);
  await store.aliases.add('b@example.com', ['a@example.com', 'bob@example.com']);
  await store.aliases.add('@example.org', ['cy@example.org']);
  let chain = 'deep0@example.com';
  for (let i = 1; i <= 15; i++) {
    await store.aliases.add(chain, [`deep${i}@example.com`]);
    chain = `deep${i}@example.com`;
  }
  await store.aliases.add(chain, ['ann@example.com']);
});

describe('recipient resolution', () => {
  it('finds accounts, through domain aliases, with plus tags kept', async () => {
    assert.deepEqual(summary(await resolveRecipient(store, 'Ann@Example.COM')), ['local:ann@example.com']);
    assert.deepEqual(summary(await resolveRecipient(store, 'ann@example.net')), ['local:ann@example.com']);
    assert.deepEqual(summary(await resolveRecipient(store, 'ann+lists@example.com')), ['local:ann@example.com+lists']);
  });

  it('expands aliases recursively, once per mailbox, loop-safe, to a depth limit', async () => {
    assert.deepEqual(summary(await resolveRecipient(store, 'team@example.com')), [
      'local:ann@example.com',
      'local:bob@example.com',
      'remote:out@remote.example',
    ]);
    assert.deepEqual(summary(await resolveRecipient(store, 'nested@example.com')), [
      'local:ann@example.com',
      'local:bob@example.com',
      'local:cy@example.org',
      'remote:out@remote.example',
    ]);
    assert.deepEqual(
      summary(await resolveRecipient(store, 'a@example.com')),
      ['local:bob@example.com'],
      'a loop ends where it closes',
    );
    assert.deepEqual(
      summary(await resolveRecipient(store, 'deep0@example.com')),
      'unknown',
      'past the depth limit nothing is delivered',
    );
  });

  it('uses the catch-all only when nothing else matches', async () => {
    assert.deepEqual(summary(await resolveRecipient(store, 'anything@example.org')), ['local:cy@example.org']);
    assert.deepEqual(summary(await resolveRecipient(store, 'nobody@example.com')), 'unknown');
  });

  it('tells apart foreign domains, invalid and disabled addresses', async () => {
    assert.equal((await resolveRecipient(store, 'x@other.org')).kind, 'not-hosted');
    assert.equal((await resolveRecipient(store, 'not an address')).kind, 'invalid');
    assert.equal((await resolveRecipient(store, 'off@example.com')).kind, 'disabled');
  });

  it('lets an account send as itself, its plus-addresses and aliases that reach it directly', async () => {
    assert.equal(await ownsAddress(store, 'ann@example.com', 'ann@example.com'), true);
    assert.equal(await ownsAddress(store, 'ann@example.com', 'ANN+x@example.net'), true);
    assert.equal(await ownsAddress(store, 'ann@example.com', 'team@example.com'), true);
    assert.equal(await ownsAddress(store, 'ann@example.com', 'bob@example.com'), false);
    assert.equal(
      await ownsAddress(store, 'cy@example.org', 'whatever@example.org'),
      false,
      "a catch-all does not make every address one's own",
    );
    assert.equal(await ownsAddress(store, 'ann@example.com', 'ann@other.org'), false);
  });
});
