/** Store contract, content: stored once per hash, read back, and collected only when nothing references or holds it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { Store } from '../index.js';
import { account, message, type WithStore } from './helpers.js';

export function blobContract(withStore: WithStore): void {
  describe('content', () => {
    it('collects content nothing references any more: rows, full-text entries and files', () =>
      withStore(collectsUnreferenced));
    it('never collects content a writer holds: a delivery that found the file just before its row reached zero keeps it', () =>
      withStore(keepsHeldContent));
    it('stores each distinct content once and reads it back', () => withStore(storesOnce));
  });
}

async function collectsUnreferenced(store: Store): Promise<void> {
  const ann = await account(store);
  const inbox = await store.mailboxes.create(ann.id, 'INBOX');
  const put = async (text: string) =>
    store.blobs.withContent(Buffer.from(text), (blob) =>
      store.transaction(async (tx) => {
        const m = await tx.messages.append(inbox.id, message({ blobHash: blob.hash, size: blob.size }));
        await tx.fulltext.index(blob.hash, { subject: text, headers: '', body: text });
        return { hash: blob.hash, uid: m.uid };
      }),
    );
  const once = await put('Subject: once\r\n\r\nsolitary\r\n');
  const twice = await put('Subject: twice\r\n\r\nshared\r\n');
  const again = await put('Subject: twice\r\n\r\nshared\r\n');
  const queued = await put('Subject: queued\r\n\r\noutbound\r\n');
  await store.queue.add({
    qid: 'Q1',
    blobHash: queued.hash,
    sender: 'ann@example.com',
    size: 10,
    authUser: null,
    envid: null,
    ret: null,
    recipients: [{ recipient: 'x@elsewhere.example', notify: null, orcpt: null }],
  });
  assert.deepEqual(
    await store.collectGarbage({ sweepDirs: 256 }),
    { blobs: 0, bytes: 0, orphans: 0 },
    'everything is referenced',
  );

  await store.messages.expunge(inbox.id, [once.uid, twice.uid, queued.uid]);
  assert.equal(
    (await store.collectGarbage({ releasedForMs: 60_000 })).blobs,
    0,
    'content released a moment ago stays for sessions still reading it',
  );
  const collected = await store.collectGarbage();
  assert.equal(collected.blobs, 1, 'only the content no message or queue entry uses');
  assert.equal(await store.blobs.has(once.hash), false);
  await assert.rejects(store.blobs.get(once.hash), (e) => isMailError(e, 'NOT_FOUND'));
  assert.deepEqual(await store.fulltext.search(inbox.id, 'solitary'), []);
  assert.equal(await store.blobs.has(twice.hash), true, 'still in the mailbox once');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'shared'), [again.uid]);
  assert.equal(await store.blobs.has(queued.hash), true, 'still queued');

  await store.queue.remove('Q1');
  await store.messages.expunge(inbox.id, [again.uid]);
  assert.equal((await store.collectGarbage()).blobs, 2);
  assert.equal(await store.blobs.has(queued.hash), false);

  // The same content delivered again after its collection is stored and indexed anew.
  const back = await put('Subject: once\r\n\r\nsolitary\r\n');
  assert.equal(back.hash, once.hash);
  assert.equal((await store.blobs.get(back.hash)).toString(), 'Subject: once\r\n\r\nsolitary\r\n');
  assert.deepEqual(await store.fulltext.search(inbox.id, 'solitary'), [back.uid]);

  // Content whose transaction failed has a file and no row: the sweep removes it.
  const failed = await store.blobs
    .withContent(Buffer.from('Subject: failed\r\n\r\nnever committed\r\n'), async (blob) => blob.hash)
    .catch(() => undefined);
  assert.ok(failed && (await store.blobs.has(failed)));
  assert.deepEqual(await store.collectGarbage({ sweepDirs: 256 }), { blobs: 0, bytes: 0, orphans: 1 });
  assert.equal(await store.blobs.has(failed), false);
  assert.equal(await store.blobs.has(back.hash), true);
}

async function keepsHeldContent(store: Store): Promise<void> {
  const ann = await account(store);
  const inbox = await store.mailboxes.create(ann.id, 'INBOX');
  const content = Buffer.from('Subject: race\r\n\r\nsame content\r\n');
  const first = await store.blobs.withContent(content, (blob) =>
    store.transaction((tx) => tx.messages.append(inbox.id, message({ blobHash: blob.hash }))),
  );
  // A second delivery of the same content finds the file (isNew false) and stalls before its transaction…
  let proceed!: () => void;
  const gate = new Promise<void>((r) => (proceed = r));
  let found!: () => void;
  const wrote = new Promise<void>((r) => (found = r));
  const second = store.blobs.withContent(content, async (blob) => {
    assert.equal(blob.isNew, false);
    found();
    await gate;
    return store.transaction((tx) => tx.messages.append(inbox.id, message({ blobHash: blob.hash })));
  });
  await wrote;
  // …while the first copy is expunged and the collector runs.
  await store.messages.expunge(inbox.id, [first.uid]);
  assert.equal((await store.collectGarbage()).blobs, 0, 'held content is left alone');
  proceed();
  const m = await second;
  assert.equal((await store.blobs.get(m.blobHash)).toString(), content.toString());

  // A write that arrives while its file is being deleted waits, then writes the file anew.
  await store.messages.expunge(inbox.id, [m.uid]);
  const collecting = store.collectGarbage();
  await new Promise((r) => setImmediate(r)); // the collector has claimed the content and is deleting it
  const third = store.blobs.withContent(content, (blob) =>
    store.transaction((tx) => tx.messages.append(inbox.id, message({ blobHash: blob.hash }))),
  );
  assert.equal((await collecting).blobs, 1);
  const kept = await third;
  assert.equal((await store.blobs.get(kept.blobHash)).toString(), content.toString());
  assert.equal((await store.collectGarbage()).blobs, 0);
  assert.equal(await store.blobs.has(kept.blobHash), true);
}

async function storesOnce(store: Store): Promise<void> {
  const body = Buffer.from('Subject: x\r\n\r\nhello\r\n');
  const first = await store.blobs.withContent(body, async (b) => b);
  const second = await store.blobs.withContent(Buffer.from(body), async (b) => b);
  assert.equal(first.hash, second.hash);
  assert.equal(first.isNew, true);
  assert.equal(second.isNew, false);
  assert.equal(first.size, body.length);
  assert.deepEqual(await store.blobs.get(first.hash), body);
  assert.equal(await store.blobs.has(first.hash), true);
  const chunks: Buffer[] = [];
  for await (const c of store.blobs.stream(first.hash, { start: 14, end: 18 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello');
  await assert.rejects(store.blobs.get('0'.repeat(64)), (e) => isMailError(e, 'NOT_FOUND'));
}
