/** Store contract, full-text search: one index entry per content, word, prefix and substring matches. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../index.js';
import { account, message, type WithStore } from './helpers.js';

export function fullTextContract(withStore: WithStore): void {
  describe('full-text search', () => {
    it('indexes each content once for full-text search', () => withStore(indexOnce));
  });
}

async function indexOnce(store: Store): Promise<void> {
  const a = await account(store);
  const inbox = await store.mailboxes.create(a.id, 'INBOX');
  const { hash } = await store.blobs.withContent(Buffer.from('Subject: fts\r\n\r\nneedle\r\n'), async (b) => b);
  await store.messages.append(inbox.id, message({ blobHash: hash }));
  const doc = { subject: 'fts', headers: 'From ann@example.com\nX-Tracker qwertyuiop', body: 'needle asdfghjkl' };
  assert.equal(await store.fulltext.index(hash, doc), true);
  assert.equal(await store.fulltext.index(hash, doc), false, 'a second copy is not indexed again');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'needle'), [1]);
  assert.deepEqual(await store.fulltext.search(inbox.id, 'need'), [1], 'word prefixes match');
  assert.deepEqual(
    await store.fulltext.search(inbox.id, 'sdfghjk'),
    [1],
    'substrings of words match (RFC 9051 §6.4.4)',
  );
  assert.deepEqual(await store.fulltext.search(inbox.id, 'wertyuio'), [1], 'header fields are searched');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'wertyuio', 'body'), [], 'but not by BODY');
  assert.deepEqual(await store.fulltext.search(inbox.id, '_'), [], 'LIKE wildcards are text');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'needle', 'body'), [1]);
  assert.deepEqual(await store.fulltext.search(inbox.id, 'fts', 'body'), [], 'the subject is not body text');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'haystack'), []);
  assert.deepEqual(await store.fulltext.search(inbox.id, '"); DROP TABLE x; --'), [], 'query text is never syntax');
}
