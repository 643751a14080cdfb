/** Store contract, messages: append, flags, expunge, usage, listing with an envelope filter or columns left out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MailboxRecord, MessageRecord, Store } from '../index.js';
import { account, message, type WithStore } from './helpers.js';

export function messageContract(withStore: WithStore): void {
  describe('messages', () => {
    it('appends messages with increasing UIDs and modseqs, flags them, expunges them, and tracks usage', () =>
      withStore(appendFlagExpunge));
  });
}

async function appendFlagExpunge(store: Store): Promise<void> {
  const a = await account(store);
  const inbox = await store.mailboxes.create(a.id, 'INBOX');
  const m1 = await store.messages.append(inbox.id, message({ flags: ['\\Seen', '\\Seen', '$Label'] }));
  const m2 = await store.messages.append(inbox.id, message({ size: 50 }));
  assert.deepEqual([m1.uid, m2.uid], [1, 2]);
  assert.ok(m2.modseq > m1.modseq);
  assert.deepEqual(m1.flags, ['$Label', '\\Seen']);
  let box = (await store.mailboxes.byId(inbox.id))!;
  assert.deepEqual([box.uidNext, box.messageCount, box.highestModseq], [3, 2, m2.modseq]);
  assert.equal((await store.accounts.get(a.address))!.usedBytes, 150);
  const got = (await store.messages.get(inbox.id, 1))!;
  assert.deepEqual(got.envelope, { subject: 'hi' });
  assert.equal(got.internalDate.toISOString(), '2026-01-02T03:04:05.000Z');

  const flagged = await store.messages.setFlags(inbox.id, [1, 2], 'add', ['\\Flagged']);
  assert.deepEqual(flagged.uids, [1, 2]);
  assert.ok(flagged.modseq > m2.modseq);
  const noop = await store.messages.setFlags(inbox.id, [1], 'add', ['\\Flagged']);
  assert.deepEqual(noop.uids, [], 'an unchanged message gets no new modseq');
  await store.messages.setFlags(inbox.id, [1], 'remove', ['\\seen']);
  assert.deepEqual((await store.messages.get(inbox.id, 1))!.flags, ['$Label', '\\Flagged']);
  await store.messages.setFlags(inbox.id, [2], 'set', ['\\Answered']);
  assert.deepEqual((await store.messages.get(inbox.id, 2))!.flags, ['\\Answered']);

  const gone = await store.messages.expunge(inbox.id, [1, 7]);
  assert.deepEqual(gone.uids, [1]);
  assert.deepEqual(
    (await store.messages.list(inbox.id)).map((m) => m.uid),
    [2],
  );
  box = (await store.mailboxes.byId(inbox.id))!;
  assert.deepEqual([box.uidNext, box.messageCount], [3, 1], 'UIDs are never reused');
  assert.equal((await store.accounts.get(a.address))!.usedBytes, 50);
  const m3 = await store.messages.append(inbox.id, message());
  assert.equal(m3.uid, 3);
  assert.deepEqual(
    (await store.messages.list(inbox.id, { fromUid: 3 })).map((m) => m.uid),
    [3],
  );
  assert.deepEqual(
    (await store.messages.summaries(inbox.id)).map((m) => [m.uid, m.flags, m.size]),
    [
      [2, ['\\Answered'], 50],
      [3, [], 100],
    ],
  );
  const m4 = await store.messages.append(
    inbox.id,
    message({ envelope: { subject: 'x', messageId: '<Abc.1@Example.org>' } }),
  );
  assert.deepEqual(
    (await store.messages.list(inbox.id, { envelopeContains: 'abc.1@example' })).map((m) => m.uid),
    [m4.uid],
    'case-insensitive envelope filter',
  );
  assert.deepEqual(
    (await store.messages.list(inbox.id, { envelopeContains: '<zzz@example.org>' })).map((m) => m.uid),
    [],
  );
  assert.equal(
    (await store.messages.get(inbox.id, m4.uid))!.envelope &&
      ((await store.messages.get(inbox.id, m4.uid))!.envelope as { messageId: string }).messageId,
    '<Abc.1@Example.org>',
  );
  await omittedColumns(store, inbox, m4);
  await store.mailboxes.remove(inbox.id);
  assert.equal((await store.accounts.get(a.address))!.usedBytes, 0, 'removing a mailbox releases its usage');
}

/** Columns a caller leaves out are not read, and reading them anyway throws. */
async function omittedColumns(store: Store, inbox: MailboxRecord, m4: MessageRecord): Promise<void> {
  const m5 = await store.messages.append(
    inbox.id,
    message({ envelopeWire: '(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)' }),
  );
  const lean = await store.messages.list(inbox.id, {
    fromUid: m4.uid,
    omit: { bodyStructure: true, envelope: 'when-wired' },
  });
  assert.deepEqual(
    lean.map((m) => [m.uid, m.envelopeWire, m.flags]),
    [
      [m4.uid, null, []],
      [m5.uid, '(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)', []],
    ],
  );
  assert.deepEqual(
    lean[0]!.envelope,
    { subject: 'x', messageId: '<Abc.1@Example.org>' },
    'the envelope where no text is stored',
  );
  assert.throws(() => lean[1]!.envelope, /not read/);
  assert.throws(() => lean[0]!.bodyStructure, /not read/);
  const flagsOnly = await store.messages.list(inbox.id, {
    fromUid: m4.uid,
    omit: { bodyStructure: true, envelope: 'all' },
  });
  assert.throws(() => flagsOnly[0]!.envelope, /not read/);
  assert.deepEqual(
    (await store.messages.list(inbox.id, { fromUid: m5.uid }))[0]!.bodyStructure,
    { type: 'text/plain' },
    'all columns by default',
  );
}
