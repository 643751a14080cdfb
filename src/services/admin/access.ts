/**
 * Who is asking, and what they may do: the rules of PostfixAdmin's roles, checked here in the service
 * layer so that the admin API, the UI on it and the CLI cannot differ.
 *
 * - the CLI (someone with the server's files) and a superadmin may do everything;
 * - a domain admin sees and manages the accounts, aliases and DKIM keys of the domains granted, and
 *   nothing else: anything of another domain is NOT_FOUND (answered 404, so that its existence is not
 *   revealed); adding or removing domains, changing their limits, and managing admins is FORBIDDEN;
 * - an API token carries its admin's rights narrowed to its scopes: `read` alone may not change
 *   anything;
 * - an account owner (self-service) manages their own password and app passwords, and nothing of
 *   the administration: every admin operation is FORBIDDEN to them.
 */
import { MailError } from '../../lib/errors.js';
import type { AccountRecord, AdminRecord, Store } from '../../store/index.js';

export type Scope = 'read' | 'write';
export const SCOPES: readonly Scope[] = ['read', 'write'];

interface Origin {
  /** Who, as the audit log writes it. */
  actor: string;
  /** Through what: 'cli', 'api'. */
  via: string;
  remote: string | null;
}

export type Principal =
  | (Origin & { kind: 'cli' })
  | (Origin & {
      kind: 'admin';
      isSuper: boolean;
      domains: ReadonlySet<string>;
      scopes: ReadonlySet<Scope>;
      /** Set when the caller came with an API token. */
      tokenId?: string;
    })
  | (Origin & { kind: 'account'; accountId: number });

export function cliPrincipal(): Principal {
  return { kind: 'cli', actor: 'cli', via: 'cli', remote: null };
}

export function adminPrincipal(
  admin: AdminRecord,
  origin: { via: string; remote: string | null },
  token?: { id: string; scopes: readonly string[] },
): Principal {
  return {
    kind: 'admin',
    actor: admin.address,
    ...origin,
    isSuper: admin.isSuper,
    domains: new Set(admin.domains),
    scopes: new Set(token ? SCOPES.filter((s) => token.scopes.includes(s)) : SCOPES),
    ...(token ? { tokenId: token.id } : {}),
  };
}

/** A token's scopes include `need` (a login has every scope); FORBIDDEN otherwise. */
export function accountPrincipal(
  account: { accountId: number; address: string },
  origin: { via: string; remote: string | null },
): Principal {
  return { kind: 'account', actor: account.address, accountId: account.accountId, ...origin };
}

/** A token's scopes include `need` (a login has every scope); FORBIDDEN otherwise. */
export function requireScope(p: Principal, need: Scope): void {
  if (p.kind === 'admin' && !p.scopes.has(need))
    throw new MailError('FORBIDDEN', `this token's scopes do not include "${need}"`);
}

/** The account of an account owner (self-service); FORBIDDEN for anyone else. */
export async function callerAccount(store: Store, p: Principal): Promise<AccountRecord> {
  if (p.kind !== 'account') throw new MailError('FORBIDDEN', 'log in with the account’s own address and password');
  const account = await store.accounts.byId(p.accountId);
  if (!account) throw new MailError('ACCOUNT_NOT_FOUND', `account ${p.actor} does not exist`);
  return account;
}

/** The caller is an admin (or the CLI), with the scope; FORBIDDEN otherwise. */
export function requireAdmin(p: Principal, need: Scope): void {
  requireScope(p, need);
  if (p.kind === 'account') throw new MailError('FORBIDDEN', 'this needs an admin');
}

/** The caller may read (or change) what belongs to `domain`; NOT_FOUND otherwise. */
export function requireDomain(p: Principal, domain: string, need: Scope): void {
  requireAdmin(p, need);
  if (p.kind === 'admin' && !p.isSuper && !p.domains.has(domain))
    throw new MailError('DOMAIN_NOT_FOUND', `domain ${domain} is not hosted`);
}

/** The caller is the CLI or a superadmin; FORBIDDEN otherwise. */
export function requireSuper(p: Principal, need: Scope): void {
  requireScope(p, need);
  if (p.kind === 'account' || (p.kind === 'admin' && !p.isSuper))
    throw new MailError('FORBIDDEN', 'only a superadmin may do this');
}

/** The domains the caller sees, or undefined for all. */
export function visibleDomains(p: Principal): ReadonlySet<string> | undefined {
  if (p.kind === 'account') return new Set();
  return p.kind === 'admin' && !p.isSuper ? p.domains : undefined;
}

/** The domain part of an address or of an alias source (`@domain` for a catch-all). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
