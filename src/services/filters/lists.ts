/**
 * Allow and block lists, per hosted domain or per account: the entries the filter policy reads
 * (policy.ts). Scopes and entries are checked and normalised here, for the CLI and the admin API alike.
 */
import { MailError } from '../../lib/errors.js';
import type { FilterListEntry, Store } from '../../store/index.js';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

export class FilterListService {
  constructor(private readonly deps: { store: Store }) {}

  async put(scopeInput: string, entryInput: string, kind: 'allow' | 'block'): Promise<FilterListEntry> {
    const scope = await this.scope(scopeInput);
    const entry = normaliseEntry(entryInput);
    await this.deps.store.filterLists.put({ scope, entry, kind });
    return { scope, entry, kind };
  }

  async remove(scopeInput: string, entryInput: string): Promise<void> {
    const scope = scopeInput.trim().toLowerCase();
    const entry = normaliseEntry(entryInput);
    if (!(await this.deps.store.filterLists.remove(scope, entry)))
      throw new MailError('NOT_FOUND', `${entry} is not on a list of ${scope}`);
  }

  async list(scopeInput?: string): Promise<FilterListEntry[]> {
    return this.deps.store.filterLists.list(scopeInput ? [scopeInput.trim().toLowerCase()] : undefined);
  }

  /** A hosted domain or an existing account. */
  private async scope(input: string): Promise<string> {
    const scope = input.trim().toLowerCase();
    if (scope.includes('@')) {
      if (!(await this.deps.store.accounts.get(scope)))
        throw new MailError(
          'ACCOUNT_NOT_FOUND',
          `no account ${scope} (a list belongs to a hosted domain or an account)`,
        );
    } else if (!(await this.deps.store.domains.get(scope)))
      throw new MailError(
        'NOT_FOUND',
        `${scope} is not a hosted domain (a list belongs to a hosted domain or an account)`,
      );
    return scope;
  }
}

/** "friend@example.org", "example.org" or "@example.org" (a domain and its subdomains). */
export function normaliseEntry(input: string): string {
  const e = input.trim().toLowerCase();
  const at = e.lastIndexOf('@');
  const domain = at >= 0 ? e.slice(at + 1) : e;
  const local = at > 0 ? e.slice(0, at) : '';
  if (!DOMAIN.test(domain) || (at > 0 && !/^[^\s@<>()",;:\\]{1,64}$/.test(local)))
    throw new MailError(
      'INVALID_INPUT',
      `"${input}" is not an address or a domain (write friend@example.org or example.org)`,
    );
  return at > 0 ? `${local}@${domain}` : domain;
}
