/** Store contract, mailboxes: UIDVALIDITY, unique names, subscriptions by name, the \Recent claim. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import type { Store } from '../index.js';
import { account, type WithStore } from './helpers.js';

export function mailboxContract(withStore: WithStore): void {
  describe('mailboxes', () => {
    it('gives mailboxes increasing UIDVALIDITY and keeps names unique per account', () =>
      withStore(mailboxNamesAndSubscriptions));
    it("hands each message's \\Recent to one claimer (RFC 3501 §2.3.2)", () => withStore(recentClaims));
  });
}

async function mailboxNamesAndSubscriptions(store: Store): Promise<void> {
  const a = await account(store);
  const inbox = await store.mailboxes.create(a.id, 'INBOX');
  const sent = await store.mailboxes.create(a.id, 'Sent', { specialUse: '\\Sent' });
  assert.ok(sent.uidValidity > inbox.uidValidity);
  assert.deepEqual([inbox.uidNext, inbox.highestModseq, inbox.messageCount], [1, 1, 0]);
  assert.equal(sent.specialUse, '\\Sent');
  await assert.rejects(store.mailboxes.create(a.id, 'Sent'), (e) => isMailError(e, 'MAILBOX_EXISTS'));
  await store.mailboxes.rename(sent.id, 'Sent Items');
  await assert.rejects(store.mailboxes.rename(sent.id, 'INBOX'), (e) => isMailError(e, 'MAILBOX_EXISTS'));
  assert.equal((await store.mailboxes.get(a.id, 'Sent Items'))!.isSubscribed, false, 'not subscribed unless asked');
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
  assert.deepEqual(await store.mailboxes.subscriptions(a.id), ['Archive', 'Gone'], 'a subscription follows RENAME');
  await store.mailboxes.setSubscription(a.id, 'Archive', false);
  await store.mailboxes.rename(again.id, 'Old');
  assert.deepEqual(
    await store.mailboxes.subscriptions(a.id),
    ['Gone'],
    'an unsubscribed mailbox renamed takes no subscription',
  );
}

async function recentClaims(store: Store): Promise<void> {
  const a = await account(store);
  const inbox = await store.mailboxes.create(a.id, 'INBOX');
  assert.equal(inbox.firstRecentUid, 1);
  assert.equal(await store.mailboxes.claimRecent(inbox.id, 3), 1, "UIDs 1-3 are this claimer's");
  assert.equal(await store.mailboxes.claimRecent(inbox.id, 3), 4, "and nobody else's");
  assert.equal(await store.mailboxes.claimRecent(inbox.id, 2), 4, 'an older claim takes nothing back');
  assert.equal((await store.mailboxes.byId(inbox.id))!.firstRecentUid, 4);
  await assert.rejects(store.mailboxes.claimRecent(99_999, 1), (e) => isMailError(e, 'MAILBOX_NOT_FOUND'));
}
