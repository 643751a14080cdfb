/** Store contract, change log: every message and mailbox change numbered per account, tombstones kept, pruned by age. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../index.js';
import { account, message, type WithStore } from './helpers.js';

export function changeLogContract(withStore: WithStore): void {
  describe('change log', () => {
    it('numbers every message stored, flagged and expunged and every mailbox change, per account, with the UIDs of what went', () =>
      withStore(logged));
    it('keeps changes through a mailbox and an account removal, and forgets them by age', () => withStore(removals));
    it("keeps an email's id when a move appends it elsewhere, and logs the move under that id", () => withStore(moves));
    it("finds an account's emails by email and thread id across mailboxes, and never another account's", () =>
      withStore(emails));
    it('keeps JMAP submissions: pending ones come due, are sent or canceled once, each change numbered', () =>
      withStore(submissions));
    it('never gives a removed message or mailbox id to a new one', () => withStore(idsNotReused));
    it('keeps push subscriptions per account, at most so many, verified and expired apart', () =>
      withStore(pushSubscriptions));
    it("keeps an account's identities: its own made when first listed and never removed, each change numbered", () =>
      withStore(identities));
  });
}

const brief = (changes: Array<{ kind: string; change: string; uid: number | null }>) =>
  changes.map((c) => `${c.kind} ${c.change}${c.uid === null ? '' : ` ${c.uid}`}`);

async function logged(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const start = await store.changeLog.position(ann.id);
  const box = await store.mailboxes.create(ann.id, 'Work');
  const first = await store.messages.append(box.id, message());
  const second = await store.messages.append(box.id, message({ flags: ['\\Seen'] }));
  await store.messages.append((await store.mailboxes.create(bob.id, 'Other')).id, message());
  await store.messages.setFlags(box.id, [first.uid], 'add', ['\\Flagged']);
  await store.messages.setFlags(box.id, [second.uid], 'add', ['\\Seen']); // no change: not logged
  await store.messages.expunge(box.id, [second.uid]);
  await store.mailboxes.rename(box.id, 'Work/2026');
  await store.mailboxes.setSubscription(ann.id, 'Work/2026', true);

  const changes = await store.changeLog.since(ann.id, start.seq, 100);
  assert.deepEqual(brief(changes), [
    'mailbox created',
    'email created 1',
    'email created 2',
    'email updated 1',
    'email destroyed 2',
    'mailbox updated',
    'mailbox updated',
  ]);
  assert.deepEqual(
    changes.map((c) => c.seq),
    changes.map((_, i) => start.seq + i + 1),
    'numbered one after another, per account',
  );
  assert.equal(changes[1]!.objectId, first.id);
  assert.ok(changes.every((c) => c.mailboxId === box.id));
  const now = await store.changeLog.position(ann.id);
  assert.equal(now.seq, start.seq + changes.length);
  assert.ok(now.keptFrom <= start.seq);
  assert.deepEqual(brief(await store.changeLog.since(ann.id, now.seq - 2, 1)), ['mailbox updated'], 'paged');
  assert.deepEqual(await store.changeLog.since(ann.id, now.seq, 100), []);
  assert.deepEqual(brief(await store.changeLog.since(bob.id, 0, 100)).slice(-2), [
    'mailbox created',
    'email created 1',
  ]);
}

async function removals(store: Store): Promise<void> {
  const ann = await account(store);
  const box = await store.mailboxes.create(ann.id, 'Old');
  await store.messages.append(box.id, message());
  const before = (await store.changeLog.position(ann.id)).seq;
  await store.mailboxes.remove(box.id);
  assert.deepEqual(brief(await store.changeLog.since(ann.id, before, 100)), ['email destroyed 1', 'mailbox destroyed']);
  assert.equal(await store.changeLog.prune(new Date(Date.now() - 60_000)), 0, 'nothing that old');
  assert.ok((await store.changeLog.prune(new Date(Date.now() + 60_000))) > 0);
  const pruned = await store.changeLog.position(ann.id);
  assert.equal(pruned.keptFrom, pruned.seq, 'nothing kept: only the current position can be asked about');
  // Removing the account removes its mailboxes and messages, and its log with it.
  const bob = await account(store, 'bob@example.com');
  await store.messages.append((await store.mailboxes.create(bob.id, 'Kept')).id, message());
  assert.ok(await store.accounts.remove('bob@example.com'));
  assert.deepEqual(await store.changeLog.since(bob.id, 0, 100), []);
}

async function moves(store: Store): Promise<void> {
  const ann = await account(store);
  const [a, b] = [await store.mailboxes.create(ann.id, 'A'), await store.mailboxes.create(ann.id, 'B')];
  const original = await store.messages.append(a.id, message());
  assert.equal(original.emailId, original.id, 'a new row is a new email');
  const before = (await store.changeLog.position(ann.id)).seq;
  const moved = await store.messages.append(b.id, original, original.emailId);
  await store.messages.expunge(a.id, [original.uid]);
  const copied = await store.messages.append(a.id, moved);
  assert.equal(moved.emailId, original.id);
  assert.notEqual(moved.id, original.id);
  assert.equal((await store.messages.get(b.id, moved.uid))?.emailId, original.id, 'read back');
  assert.equal((await store.messages.list(b.id))[0]?.emailId, original.id);
  assert.equal(copied.emailId, copied.id, 'a copy is a new email');
  assert.deepEqual(
    (await store.changeLog.since(ann.id, before, 100)).map((c) => [c.change, c.objectId, c.mailboxId]),
    [
      ['created', original.id, b.id],
      ['destroyed', original.id, a.id],
      ['created', copied.id, a.id],
    ],
  );
}

async function threads(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const inbox = await store.mailboxes.create(ann.id, 'Threads');
  const first = await store.messages.append(inbox.id, message());
  assert.equal(first.threadId, first.emailId, 'a message starts its own thread');
  await store.threads.remember(ann.id, 'a@x', first.threadId, 'lunch');
  await store.threads.remember(ann.id, 'a@x', 999, 'other'); // the first stays
  assert.equal(await store.threads.find(ann.id, ['unknown@x', 'a@x'], 'lunch'), first.threadId);
  assert.equal(await store.threads.find(ann.id, ['a@x'], 'dinner'), undefined, 'another subject');
  assert.equal(await store.threads.find(bob.id, ['a@x'], 'lunch'), undefined, "another account's");
  assert.equal(await store.threads.find(ann.id, [], 'lunch'), undefined);
  const reply = await store.messages.append(inbox.id, message({ threadId: first.threadId }));
  assert.equal(reply.threadId, first.threadId);
  assert.deepEqual(
    (await store.messages.list(inbox.id)).map((m) => m.threadId),
    [first.threadId, first.threadId],
  );
  const moved = await store.messages.append(
    (await store.mailboxes.create(ann.id, 'Elsewhere')).id,
    first,
    first.emailId,
  );
  assert.equal(moved.threadId, first.threadId, 'a move keeps the thread');
}

async function emails(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const inbox = await store.mailboxes.create(ann.id, 'In');
  const work = await store.mailboxes.create(ann.id, 'Work');
  const older = await store.messages.append(inbox.id, message({ internalDate: new Date('2026-01-01T00:00:00Z') }));
  const reply = await store.messages.append(
    work.id,
    message({ internalDate: new Date('2026-01-02T00:00:00Z'), threadId: older.threadId }),
  );
  const moved = await store.messages.append(work.id, older, older.emailId);
  await store.messages.expunge(inbox.id, [older.uid]);
  const theirs = await store.messages.append((await store.mailboxes.create(bob.id, 'In')).id, message());

  const found = await store.emails.byIds(ann.id, [older.emailId, reply.emailId, theirs.emailId, 999_999]);
  assert.deepEqual(found.map((m) => [m.emailId, m.mailboxId, m.uid]).sort(), [
    [older.emailId, work.id, moved.uid],
    [reply.emailId, work.id, reply.uid],
  ]);
  assert.deepEqual(await store.emails.byIds(bob.id, [older.emailId]), [], "another account's ids find nothing");
  const thread = await store.emails.inThreads(ann.id, [older.threadId]);
  assert.deepEqual(
    thread.map((m) => m.emailId),
    [older.emailId, reply.emailId],
    'oldest first',
  );
  assert.deepEqual(await store.emails.inThreads(bob.id, [older.threadId]), []);
  assert.deepEqual(
    (await store.emails.list(ann.id)).map((m) => m.emailId),
    [reply.emailId, older.emailId],
    'newest first',
  );
  assert.deepEqual((await store.emails.list(ann.id, { mailboxId: inbox.id })).length, 0);
  assert.deepEqual(await store.emails.page(ann.id, work.id, 0, 1), { emailIds: [reply.emailId], total: 2 });
  assert.deepEqual(await store.emails.page(ann.id, work.id, 1, 5), { emailIds: [older.emailId], total: 2 });
  assert.deepEqual(await store.emails.page(bob.id, work.id, 0, 5), { emailIds: [], total: 0 }, "not another account's");
  await store.messages.setFlags(work.id, [reply.uid], 'add', ['\\Seen']);
  assert.deepEqual(
    (await store.emails.counts(ann.id)).map((c) => ({ ...c })),
    [{ mailboxId: work.id, emails: 2, unreadEmails: 1, threads: 1, unreadThreads: 1 }],
  );
  assert.deepEqual(await store.emails.list(ann.id, { mailboxId: (await store.mailboxes.get(bob.id, 'In'))!.id }), []);
}

async function submissions(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const base = {
    emailId: 1,
    threadId: 1,
    identityId: 'i1',
    envelope: { mailFrom: 'ann@example.com', rcptTo: ['x@remote.example'] },
    qid: '',
    deliveryStatus: {},
    clientIp: '192.0.2.1',
  };
  const sent = await store.submissions.add({ ...base, accountId: ann.id, sendAt: new Date(1000), undoStatus: 'final' });
  const later = await store.submissions.add(
    { ...base, accountId: ann.id, sendAt: new Date(5000), undoStatus: 'pending' },
    Buffer.from('Subject: later\r\n\r\nkept\r\n'),
  );
  assert.equal((await store.submissions.content(later.id))?.toString(), 'Subject: later\r\n\r\nkept\r\n');
  const undone = await store.submissions.add({
    ...base,
    accountId: ann.id,
    sendAt: new Date(5000),
    undoStatus: 'pending',
  });
  await store.submissions.add({ ...base, accountId: bob.id, sendAt: new Date(5000), undoStatus: 'pending' });
  const made = await store.submissions.seq(ann.id);
  assert.equal(made, 3, 'numbered per account');
  assert.equal(await store.submissions.cancel(bob.id, undone.id), false, "not another account's");
  assert.equal(await store.submissions.cancel(ann.id, undone.id), true);
  assert.equal(await store.submissions.cancel(ann.id, undone.id), false, 'once');
  assert.equal(await store.submissions.cancel(ann.id, sent.id), false, 'not a sent one');
  assert.deepEqual((await store.submissions.due(new Date(4999), 10)).length, 0);
  const due = await store.submissions.due(new Date(5000), 10);
  assert.deepEqual(
    due.map((d) => [d.accountId, d.undoStatus, d.clientIp]),
    [
      [ann.id, 'pending', '192.0.2.1'],
      [bob.id, 'pending', '192.0.2.1'],
    ],
  );
  assert.equal(await store.submissions.claim(later.id), true);
  assert.equal(await store.submissions.claim(later.id), false, 'claimed once');
  assert.equal(await store.submissions.cancel(ann.id, later.id), false, 'a submission being sent is not canceled');
  assert.equal(await store.submissions.unclaimAll(), 1, 'one left sending by a stop waits again');
  assert.equal(await store.submissions.claim(later.id), true);
  await store.submissions.finish(later.id, {
    qid: 'Q1',
    deliveryStatus: { 'x@remote.example': { smtpReply: '250', delivered: 'queued' } },
  });
  assert.equal((await store.submissions.due(new Date(5000), 10)).length, 1, "only bob's is still due");
  const [after] = await store.submissions.list(ann.id, [later.id]);
  assert.deepEqual([after!.undoStatus, after!.qid], ['final', 'Q1']);
  assert.equal(await store.submissions.content(later.id), undefined, 'the kept content is dropped once sent');
  assert.deepEqual(await store.submissions.changedSince(ann.id, made), [
    { id: undone.id, created: false, seq: 4 },
    { id: later.id, created: false, seq: 5 },
  ]);
  assert.deepEqual(
    (await store.submissions.changedSince(ann.id, 0)).map((c) => [c.id, c.created]),
    [
      [sent.id, true],
      [undone.id, true],
      [later.id, true],
    ],
  );
}

async function idsNotReused(store: Store): Promise<void> {
  const ann = await account(store);
  const box = await store.mailboxes.create(ann.id, 'Once');
  const first = await store.messages.append(box.id, message());
  const newest = await store.messages.append(box.id, message());
  await store.messages.expunge(box.id, [newest.uid]);
  const next = await store.messages.append(box.id, message());
  assert.ok(next.id > newest.id && next.emailId > newest.emailId, 'the expunged newest id is not given again');
  assert.ok(first.id < newest.id);
  await store.mailboxes.remove(box.id);
  const again = await store.mailboxes.create(ann.id, 'Twice');
  assert.ok(again.id > box.id, 'nor a removed mailbox id');
}

async function pushSubscriptions(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const later = new Date(Date.now() + 3600_000);
  const record = (accountId: number, url: string) => ({
    accountId,
    deviceClientId: 'phone',
    url,
    keys: null,
    verificationCode: 'code',
    verified: false,
    expires: later,
    types: null,
  });
  const a = (await store.pushSubscriptions.add(record(ann.id, 'https://push.example/a'), 2))!;
  const b = (await store.pushSubscriptions.add({ ...record(ann.id, 'https://push.example/b'), types: ['Email'] }, 2))!;
  assert.equal(await store.pushSubscriptions.add(record(ann.id, 'https://push.example/c'), 2), undefined, 'at most 2');
  const bobs = (await store.pushSubscriptions.add(record(bob.id, 'https://push.example/d'), 2))!;
  assert.deepEqual(
    (await store.pushSubscriptions.list(ann.id)).map((s) => [s.url, s.types]),
    [
      ['https://push.example/a', null],
      ['https://push.example/b', ['Email']],
    ],
  );
  assert.deepEqual(await store.pushSubscriptions.list(ann.id, [bobs.id]), [], "never another account's");
  assert.equal(await store.pushSubscriptions.update(bob.id, a.id, { verified: true }), false);
  assert.deepEqual(await store.pushSubscriptions.active(new Date()), [], 'none verified yet');
  assert.equal(await store.pushSubscriptions.update(ann.id, a.id, { verified: true, types: ['Mailbox'] }), true);
  assert.deepEqual(
    (await store.pushSubscriptions.active(new Date())).map((s) => [s.id, s.types]),
    [[a.id, ['Mailbox']]],
  );
  assert.equal((await store.pushSubscriptions.active(new Date(later.getTime() + 1))).length, 0, 'expired');
  assert.deepEqual(await store.pushSubscriptions.remove(bob.id, [a.id, bobs.id]), [bobs.id]);
  await store.pushSubscriptions.update(ann.id, b.id, { expires: new Date(Date.now() - 1) });
  assert.equal(await store.pushSubscriptions.expire(new Date()), 1);
  assert.deepEqual(
    (await store.pushSubscriptions.list(ann.id)).map((s) => s.id),
    [a.id],
  );
}

async function identities(store: Store): Promise<void> {
  const ann = await account(store);
  const bob = await account(store, 'bob@example.com');
  const [own] = await store.identities.list(ann.id, 'ann@example.com');
  assert.deepEqual([own!.email, own!.isDefault, own!.name], ['ann@example.com', true, '']);
  assert.equal((await store.identities.list(ann.id, 'ann@example.com')).length, 1, 'made once');
  const start = await store.identities.seq(ann.id);
  const fields = {
    name: 'Ann',
    replyTo: null,
    bcc: [{ name: null, email: 'archive@example.com' }],
    textSignature: '-- Ann',
    htmlSignature: '',
  };
  const sales = (await store.identities.add({ accountId: ann.id, email: 'sales@example.com', ...fields }, 2))!;
  assert.equal(
    await store.identities.add({ accountId: ann.id, email: 'x@example.com', ...fields }, 2),
    undefined,
    'at most 2',
  );
  assert.equal(await store.identities.update(bob.id, sales.id, { name: 'Bob' }), false, "not another account's");
  assert.equal(
    await store.identities.update(ann.id, sales.id, {
      name: 'Sales',
      replyTo: [{ name: 'S', email: 's@example.com' }],
    }),
    true,
  );
  assert.equal(await store.identities.remove(ann.id, own!.id), false, 'the own identity stays');
  const listed = await store.identities.list(ann.id, 'ann@example.com');
  assert.deepEqual(
    listed.map((i) => [i.email, i.name, i.replyTo, i.bcc]),
    [
      ['ann@example.com', '', null, null],
      [
        'sales@example.com',
        'Sales',
        [{ name: 'S', email: 's@example.com' }],
        [{ name: null, email: 'archive@example.com' }],
      ],
    ],
  );
  const made = await store.identities.seq(ann.id);
  assert.deepEqual(
    (await store.identities.changedSince(ann.id, start)).map(({ id, change }) => ({ id, change })),
    [{ id: sales.id, change: 'created' }],
  );
  assert.equal(await store.identities.remove(ann.id, sales.id), true);
  assert.equal(await store.identities.remove(ann.id, sales.id), false, 'once');
  assert.deepEqual(
    (await store.identities.changedSince(ann.id, made)).map(({ id, change }) => ({ id, change })),
    [{ id: sales.id, change: 'destroyed' }],
  );
  assert.deepEqual(await store.identities.changedSince(ann.id, start), [], 'made and removed since: nothing to tell');
  assert.equal((await store.identities.list(ann.id, 'ann@example.com')).length, 1);
  const again = (await store.identities.add({ accountId: ann.id, email: 'sales@example.com', ...fields }, 2))!;
  assert.ok(again.id > sales.id, 'a removed id is not given again');
}
