/** An API token written straight to the store, for cases the API will not make (an expired one). */
import { makeToken } from '../../src/services/admin/tokens.js';
import type { Store } from '../../src/store/index.js';

export async function makeTokenForTest(store: Store, admin: string, expiresInDays: number): Promise<string> {
  const { record, token } = makeToken(admin, { name: 'test', scopes: ['read', 'write'], expiresInDays: 1 });
  await store.apiTokens.add({ ...record, expiresAt: new Date(Date.now() + expiresInDays * 86_400_000) });
  return token;
}
