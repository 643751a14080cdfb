/** Helpers the store contract's areas share: a fresh store per test, an account, a message. */
import type { NewMessage, Store } from '../index.js';

/** Runs a test body on a fresh, empty store and closes it afterwards. */
export type WithStore = (fn: (store: Store) => Promise<void>) => Promise<void>;

export const message = (over: Partial<NewMessage> = {}): NewMessage => ({
  blobHash: 'a'.repeat(64),
  size: 100,
  internalDate: new Date('2026-01-02T03:04:05Z'),
  flags: [],
  envelope: { subject: 'hi' },
  bodyStructure: { type: 'text/plain' },
  ...over,
});

/** `withStore` over the backend's factory. */
export function withStoreFrom(open: () => Promise<Store>): WithStore {
  return async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };
}

/** An account (and its domain, when new) for tests that need one. */
export async function account(store: Store, address = 'ann@example.com') {
  const domain = address.slice(address.indexOf('@') + 1);
  if (!(await store.domains.get(domain))) await store.domains.add(domain);
  return store.accounts.add({ address, passwordHash: '$argon2id$x', quotaBytes: 0 });
}
