/**
 * The behaviour every Store backend must show. A backend's test file calls `storeContract` with a
 * factory that opens a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { ChangeEvent, NewMessage, Store } from '../index.js';

const message = (over: Partial<NewMessage> = {}): NewMessage => ({
  blobHash: 'a'.repeat(64),
  size: 100,
  internalDate: new Date('2026-01-02T03:04:05Z'),
  flags: [],
  envelope: { subject: 'hi' },
  bodyStructure: { type: 'text/plain' },
  ...over,
});

export function storeContract(backend: string, open: () => Promise<Store>): void {
  describe(`store contract: ${backend}`, () => {
    async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
      const store = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    }

    async function account(store: Store, address = 'ann@example.com') {
      const domain = address.slice(address.indexOf('@') + 1);
      if (!(await store.domains.get(domain))) await store.domains.add(domain);
      return store.accounts.add({ address, passwordHash: '$argon2id$x', quotaBytes: 0 });
    }

    it('adds, lists and removes domains and domain aliases', () =>
      withStore(async (store) => {
        await store.domains.add('example.com');
        const alias = await store.domains.add('example.net', { aliasOf: 'example.com' });
        assert.equal(alias.aliasOf, 'example.com');
        assert.deepEqual(
          (await store.domains.list()).map((d) => d.name),
          ['example.com', 'example.net'],
        );
        await assert.rejects(store.domains.add('example.com'), (e) => isMailError(e, 'ALREADY_EXISTS'));
        await assert.rejects(store.domains.add('x.org', { aliasOf: 'nope.org' }), (e) =>
          isMailError(e, 'DOMAIN_NOT_FOUND'),
        );
        await assert.rejects(store.domains.add('y.org', { aliasOf: 'example.net' }), (e) =>
          isMailError(e, 'INVALID_INPUT'),
        );
        assert.equal(await store.domains.remove('example.com'), true);
        assert.deepEqual(await store.domains.list(), [], 'removing a domain removes its domain aliases');
        assert.equal(await store.domains.remove('example.com'), false);
      }));

    it('adds accounts only in hosted, non-alias domains and updates them', () =>
      withStore(async (store) => {
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
      }));

    it('keeps aliases as one source to many destinations, with catch-alls', () =>
      withStore(async (store) => {
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
        assert.deepEqual((await store.aliases.get('info@example.com'))?.destinations, [
          'ann@example.com',
          'cy@example.com',
        ]);
        assert.equal(await store.aliases.remove('info@example.com'), true);
        assert.equal(await store.aliases.get('info@example.com'), undefined);
        await assert.rejects(store.aliases.add('x@nowhere.org', ['a@b.c']), (e) => isMailError(e, 'DOMAIN_NOT_FOUND'));
      }));

    it('gives mailboxes increasing UIDVALIDITY and keeps names unique per account', () =>
      withStore(async (store) => {
        const a = await account(store);
        const inbox = await store.mailboxes.create(a.id, 'INBOX');
        const sent = await store.mailboxes.create(a.id, 'Sent', { specialUse: '\\Sent' });
        assert.ok(sent.uidValidity > inbox.uidValidity);
        assert.deepEqual([inbox.uidNext, inbox.highestModseq, inbox.messageCount], [1, 1, 0]);
        assert.equal(sent.specialUse, '\\Sent');
        await assert.rejects(store.mailboxes.create(a.id, 'Sent'), (e) => isMailError(e, 'MAILBOX_EXISTS'));
        await store.mailboxes.rename(sent.id, 'Sent Items');
        await assert.rejects(store.mailboxes.rename(sent.id, 'INBOX'), (e) => isMailError(e, 'MAILBOX_EXISTS'));
        assert.equal(
          (await store.mailboxes.get(a.id, 'Sent Items'))!.isSubscribed,
          false,
          'not subscribed unless asked',
        );
        await store.mailboxes.setSubscription(a.id, 'Sent Items', true);
        await store.mailboxes.setSubscription(a.id, 'Gone', true);
        const renamed = (await store.mailboxes.get(a.id, 'Sent Items'))!;
        assert.equal(renamed.isSubscribed, true);
        await store.mailboxes.remove(renamed.id);
        const again = await store.mailboxes.create(a.id, 'Sent Items');
        assert.ok(again.uidValidity > renamed.uidValidity, 'a reused name gets a new UIDVALIDITY');
        assert.deepEqual(
          (await store.mailboxes.list(a.id)).map((m) => m.name),
          ['INBOX', 'Sent Items'],
        );
        // RFC 9051 §6.3.7: subscriptions are names: deleting a mailbox keeps it, one may exist without a mailbox.
        assert.deepEqual(await store.mailboxes.subscriptions(a.id), ['Gone', 'Sent Items']);
        assert.equal(again.isSubscribed, true, 'the name was still subscribed');
        await store.mailboxes.rename(again.id, 'Archive');
        assert.deepEqual(
          await store.mailboxes.subscriptions(a.id),
          ['Archive', 'Gone'],
          'a subscription follows RENAME',
        );
        await store.mailboxes.setSubscription(a.id, 'Archive', false);
        await store.mailboxes.rename(again.id, 'Old');
        assert.deepEqual(
          await store.mailboxes.subscriptions(a.id),
          ['Gone'],
          'an unsubscribed mailbox renamed takes no subscription',
        );
      }));

    it("hands each message's \\Recent to one claimer (RFC 3501 §2.3.2)", () =>
      withStore(async (store) => {
        const a = await account(store);
        const inbox = await store.mailboxes.create(a.id, 'INBOX');
        assert.equal(inbox.firstRecentUid, 1);
        assert.equal(await store.mailboxes.claimRecent(inbox.id, 3), 1, "UIDs 1-3 are this claimer's");
        assert.equal(await store.mailboxes.claimRecent(inbox.id, 3), 4, "and nobody else's");
        assert.equal(await store.mailboxes.claimRecent(inbox.id, 2), 4, 'an older claim takes nothing back');
        assert.equal((await store.mailboxes.byId(inbox.id))!.firstRecentUid, 4);
        await assert.rejects(store.mailboxes.claimRecent(99_999, 1), (e) => isMailError(e, 'MAILBOX_NOT_FOUND'));
      }));

    it('appends messages with increasing UIDs and modseqs, flags them, expunges them, and tracks usage', () =>
      withStore(async (store) => {
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
        // Columns a caller leaves out are not read, and reading them anyway throws.
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
        await store.mailboxes.remove(inbox.id);
        assert.equal((await store.accounts.get(a.address))!.usedBytes, 0, 'removing a mailbox releases its usage');
      }));

    it('rolls a failed transaction back and announces changes only after commit', () =>
      withStore(async (store) => {
        const a = await account(store);
        const inbox = await store.mailboxes.create(a.id, 'INBOX');
        const seen: ChangeEvent[] = [];
        const unsubscribe = store.changes.subscribe(a.id, (e) => seen.push(e));
        await assert.rejects(
          store.transaction(async (tx) => {
            const m = await tx.messages.append(inbox.id, message());
            tx.notify({ type: 'added', accountId: a.id, mailboxId: inbox.id, uid: m.uid, modseq: m.modseq });
            throw new Error('boom');
          }),
          /boom/,
        );
        assert.deepEqual(seen, []);
        assert.equal((await store.messages.list(inbox.id)).length, 0);
        await store.transaction(async (tx) => {
          const m = await tx.messages.append(inbox.id, message());
          tx.notify({ type: 'added', accountId: a.id, mailboxId: inbox.id, uid: m.uid, modseq: m.modseq });
          assert.deepEqual(seen, [], 'not before commit');
        });
        assert.deepEqual(
          (seen as ChangeEvent[]).map((e) => e.type),
          ['added'],
        );
        unsubscribe();
      }));

    it('serialises concurrent transactions and keeps outside statements out of them', () =>
      withStore(async (store) => {
        const a = await account(store);
        const inbox = await store.mailboxes.create(a.id, 'INBOX');
        const appends = Array.from({ length: 20 }, () =>
          store.transaction(async (tx) => {
            await new Promise((r) => setTimeout(r, 1));
            return tx.messages.append(inbox.id, message());
          }),
        );
        const outside = store.domains.add('during.example');
        const results = await Promise.all(appends);
        await outside;
        assert.deepEqual(
          results.map((m) => m.uid).sort((x, y) => x - y),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.ok(await store.domains.get('during.example'));
      }));

    it('indexes each content once for full-text search', () =>
      withStore(async (store) => {
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
        assert.deepEqual(
          await store.fulltext.search(inbox.id, '"); DROP TABLE x; --'),
          [],
          'query text is never syntax',
        );
      }));

    it('keeps queue entries with their recipients until removed', () =>
      withStore(async (store) => {
        const { hash } = await store.blobs.withContent(Buffer.from('Subject: out\r\n\r\nx\r\n'), async (b) => b);
        const entry = await store.queue.add({
          qid: 'QID1',
          blobHash: hash,
          sender: 'ann@example.com',
          size: 20,
          authUser: 'ann@example.com',
          envid: 'E1',
          ret: 'HDRS',
          recipients: [
            { recipient: 'x@remote.example', notify: 'FAILURE', orcpt: 'rfc822;x@remote.example' },
            { recipient: 'y@other.example', notify: null, orcpt: null },
          ],
        });
        assert.deepEqual(
          entry.recipients.map((r) => [r.recipient, r.status, r.attempts]),
          [
            ['x@remote.example', 'pending', 0],
            ['y@other.example', 'pending', 0],
          ],
        );
        assert.equal(entry.envid, 'E1');
        assert.deepEqual(
          (await store.queue.list()).map((e) => e.qid),
          ['QID1'],
        );
        assert.equal((await store.queue.get('QID1'))?.authUser, 'ann@example.com');
        assert.equal(await store.queue.remove('QID1'), true);
        assert.deepEqual(await store.queue.list(), []);
      }));

    it('leases due recipients to one owner at a time, records outcomes, holds and retries', () =>
      withStore(async (store) => {
        const { hash } = await store.blobs.withContent(Buffer.from('Subject: out\r\n\r\nx\r\n'), async (b) => b);
        const add = (qid: string) =>
          store.queue.add({
            qid,
            blobHash: hash,
            sender: 'ann@example.com',
            size: 20,
            authUser: null,
            envid: null,
            ret: null,
            recipients: [
              { recipient: 'x@remote.example', notify: null, orcpt: null },
              { recipient: 'y@remote.example', notify: null, orcpt: null },
            ],
          });
        await add('Q1');
        await add('Q2');
        const now = new Date();
        const a = await store.queue.claim('worker-a', { now, leaseMs: 60_000, limit: 3 });
        assert.deepEqual(
          a.map((e) => [e.qid, e.recipients.length]),
          [
            ['Q1', 2],
            ['Q2', 1],
          ],
        );
        const b = await store.queue.claim('worker-b', { now, leaseMs: 60_000, limit: 10 });
        assert.deepEqual(
          b.map((e) => [e.qid, e.recipients.map((r) => r.recipient)]),
          [['Q2', ['y@remote.example']]],
          'leased rows are not handed out twice',
        );
        assert.deepEqual(await store.queue.claim('worker-c', { now, leaseMs: 60_000, limit: 10 }), []);
        // A lease that ran out is taken over.
        const later = new Date(now.getTime() + 61_000);
        assert.equal(
          (await store.queue.claim('worker-c', { now: later, leaseMs: 60_000, limit: 10 })).reduce(
            (n, e) => n + e.recipients.length,
            0,
          ),
          4,
        );
        const [x, y] = a[0]!.recipients;
        await store.queue.record([
          { id: x!.id, status: 'sent', error: null, remoteMta: 'mx.remote.example' },
          {
            id: y!.id,
            status: 'pending',
            error: '451 4.3.0 try later',
            remoteMta: 'mx.remote.example',
            nextAttemptAt: new Date(now.getTime() + 300_000),
          },
        ]);
        const q1 = (await store.queue.get('Q1'))!;
        assert.deepEqual(
          q1.recipients.map((r) => [r.status, r.attempts, r.lastError]),
          [
            ['sent', 1, null],
            ['pending', 1, '451 4.3.0 try later'],
          ],
        );
        assert.equal(await store.queue.removeIfDone('Q1'), false, 'a recipient is still pending');
        assert.equal(await store.queue.removeAllDone(), 0, 'nothing is done yet');
        assert.equal(await store.queue.releaseLeases('worker-c'), 2, 'the two of Q2');
        assert.equal(await store.queue.setHeld('Q2', true), true);
        assert.deepEqual(
          (await store.queue.claim('worker-d', { now: later, leaseMs: 1000, limit: 10 })).map((e) => e.qid),
          [],
          'Q1 waits, Q2 is held',
        );
        assert.equal(await store.queue.retry('Q1'), 1);
        assert.deepEqual(
          (await store.queue.claim('worker-d', { now: new Date(Date.now() + 1), leaseMs: 1000, limit: 10 })).map(
            (e) => e.qid,
          ),
          ['Q1'],
        );
        await store.queue.record([
          { id: y!.id, status: 'failed', error: '550 5.1.1 no such user', remoteMta: 'mx.remote.example' },
        ]);
        assert.equal(await store.queue.removeAllDone(), 1, 'Q1 is done: swept');
        assert.equal(await store.queue.removeIfDone('Q1'), false, 'already gone');
        await store.queue.setHeld('Q2', false);
        assert.equal(await store.queue.retry(), 0, 'Q2 was due already');
        assert.equal(
          (await store.queue.claim('worker-e', { now: later, leaseMs: 1000, limit: 10 }))[0]?.recipients.length,
          2,
        );
      }));

    it('keeps Sieve scripts per account with at most one active, and records auto-replies until they expire', () =>
      withStore(async (store) => {
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
      }));

    it('collects content nothing references any more: rows, full-text entries and files', () =>
      withStore(async (store) => {
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
      }));

    it('never collects content a writer holds: a delivery that found the file just before its row reached zero keeps it', () =>
      withStore(async (store) => {
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
      }));

    it('stores each distinct content once and reads it back', () =>
      withStore(async (store) => {
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
      }));
  });
}
