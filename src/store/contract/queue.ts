/** Store contract, outbound queue: entries and recipients, leases, outcomes, holds and retries. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../index.js';
import type { WithStore } from './helpers.js';

export function queueContract(withStore: WithStore): void {
  describe('queue', () => {
    it('keeps queue entries with their recipients until removed', () => withStore(entriesWithRecipients));
    it('leases due recipients to one owner at a time, records outcomes, holds and retries', () =>
      withStore(leasesAndOutcomes));
  });
}

async function entriesWithRecipients(store: Store): Promise<void> {
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
}

async function leasesAndOutcomes(store: Store): Promise<void> {
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
}
