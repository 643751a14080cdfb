/** Store contract, transactions: rollback, change events after commit, concurrent callers serialised. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeEvent, Store } from '../index.js';
import { account, message, type WithStore } from './helpers.js';

export function transactionContract(withStore: WithStore): void {
  describe('transactions', () => {
    it('rolls a failed transaction back and announces changes only after commit', () => withStore(rollbackAndNotify));
    it('serialises concurrent transactions and keeps outside statements out of them', () =>
      withStore(serialisedTransactions));
  });
}

async function rollbackAndNotify(store: Store): Promise<void> {
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
}

async function serialisedTransactions(store: Store): Promise<void> {
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
}
