import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { MailboxRecord } from '../../store/index.js';
import { SelectedMailbox } from './selected.js';
import { UidSnapshots } from './uid-snapshots.js';

const box = { id: 1 } as MailboxRecord;

it('announces expunges in RFC order, applies changes only when told to, and shares equal UID lists', () => {
  const snapshots = new UidSnapshots();
  const a = new SelectedMailbox(box, [1, 2, 3, 5, 8], false, snapshots);
  const b = new SelectedMailbox(box, [1, 2, 3, 5, 8], false, snapshots);
  assert.equal(a.uids, b.uids, 'equal lists are one list');
  a.apply({ type: 'expunged', accountId: 1, mailboxId: 1, uids: [2, 3], modseq: 9 });
  a.apply({ type: 'added', accountId: 1, mailboxId: 1, uid: 9, modseq: 10 });
  a.apply({ type: 'flags', accountId: 1, mailboxId: 1, uids: [5], modseq: 11 });
  a.apply({ type: 'added', accountId: 1, mailboxId: 2, uid: 4, modseq: 1 });
  const held = a.take(false);
  assert.deepEqual(held.expungedSeqs, [], 'no EXPUNGE while the client may still use the numbers');
  assert.equal(a.seqOf(3), 3);
  assert.ok(a.hasPending, 'the expunge waits');
  const now = a.take(true);
  assert.deepEqual(now.expungedSeqs, [2, 2], 'each EXPUNGE counted after the previous one');
  assert.deepEqual([...a.uids], [1, 5, 8]);
  a.addUids([9]);
  assert.deepEqual([...a.uids], [1, 5, 8, 9]);
  assert.equal(a.seqOf(9), 4);
  assert.equal(a.seqOf(2), 0);
  assert.deepEqual(b.removeUids([2, 3]), [2, 2]);
  b.addUids([9]);
  assert.equal(a.uids, b.uids, 'both sessions share the list again after the same changes');
});
