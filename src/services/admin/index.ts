/**
 * Administration: what PostfixAdmin does, as one service the admin API and the CLI both call. Every
 * operation takes the caller (access.ts) and checks their rights first; the directory's own rules
 * (names, passwords, the domain limits) hold underneath; every change is written to the audit log
 * with who made it, through what, from where, and the state before and after (never a password).
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeAddress, normalizeDomain } from '../../mail/address.js';
import type { AccountRecord, AdminRecord, DomainLimits, DomainRecord, Store } from '../../store/index.js';
import type { PasswordPolicy } from '../auth/password.js';
import type { Directory } from '../directory/index.js';
import { requireAdmin, requireDomain, requireScope, requireSuper, visibleDomains, type Principal } from './access.js';
import { writeAudit, type Change } from './audit.js';
import { makeToken, tokenView, type NewToken } from './tokens.js';

export { accountPrincipal, adminPrincipal, cliPrincipal, type Principal, type Scope } from './access.js';
export { principalOfToken } from './tokens.js';

export interface AdministrationDeps {
  store: Store;
  directory: Directory;
  passwords: PasswordPolicy;
  log: Logger;
}

export interface DomainView {
  name: string;
  aliasOf: string | null;
  limits: DomainLimits;
  accounts: number;
  aliases: number;
  quotaTotal: number;
  createdAt: string;
}

export interface AccountView {
  address: string;
  quotaBytes: number;
  usedBytes: number;
  enabled: boolean;
  createdAt: string;
}

export interface AdminView {
  address: string;
  role: 'superadmin' | 'domain';
  domains: string[];
  createdAt: string;
}

const accountView = (a: AccountRecord): AccountView => ({
  address: a.address,
  quotaBytes: a.quotaBytes,
  usedBytes: a.usedBytes,
  enabled: a.isEnabled,
  createdAt: a.createdAt.toISOString(),
});

const adminView = (a: AdminRecord): AdminView => ({
  address: a.address,
  role: a.isSuper ? 'superadmin' : 'domain',
  domains: a.domains,
  createdAt: a.createdAt.toISOString(),
});

export class Administration {
  constructor(private readonly deps: AdministrationDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  private audit(p: Principal, change: Change): Promise<void> {
    return writeAudit(this.store, p, change);
  }

  // Domains

  private async domainView(d: DomainRecord): Promise<DomainView> {
    const hosted = d.aliasOf === null;
    return {
      name: d.name,
      aliasOf: d.aliasOf,
      limits: d.limits,
      accounts: hosted ? await this.store.domains.accountCount(d.name) : 0,
      aliases: hosted ? await this.store.domains.aliasCount(d.name) : 0,
      quotaTotal: hosted ? await this.store.domains.quotaTotal(d.name) : 0,
      createdAt: d.createdAt.toISOString(),
    };
  }

  async listDomains(p: Principal): Promise<DomainView[]> {
    requireAdmin(p, 'read');
    const visible = visibleDomains(p);
    const domains = (await this.store.domains.list()).filter((d) => !visible || visible.has(d.name));
    return Promise.all(domains.map((d) => this.domainView(d)));
  }

  async getDomain(p: Principal, input: string): Promise<DomainView> {
    const name = domainName(input);
    requireDomain(p, name, 'read');
    const d = await this.store.domains.get(name);
    if (!d) throw new MailError('DOMAIN_NOT_FOUND', `domain ${name} is not hosted`);
    return this.domainView(d);
  }

  async addDomain(
    p: Principal,
    input: { name: string; aliasOf?: string; limits?: Partial<DomainLimits> },
  ): Promise<DomainView> {
    requireSuper(p, 'write');
    for (const [key, value] of Object.entries(input.limits ?? {}))
      if (!Number.isSafeInteger(value) || value < 0)
        throw new MailError('INVALID_INPUT', `${key} must be a whole number of at least 0 (0 = no limit)`);
    let d = await this.deps.directory.addDomain(
      input.name,
      input.aliasOf === undefined ? {} : { aliasOf: input.aliasOf },
    );
    if (input.limits && !d.aliasOf) d = await this.deps.directory.setLimits(d.name, { ...d.limits, ...input.limits });
    const view = await this.domainView(d);
    await this.audit(p, { action: 'domain.add', target: d.name, domain: d.name, after: view });
    return view;
  }

  async setDomainLimits(p: Principal, input: string, limits: Partial<DomainLimits>): Promise<DomainView> {
    const before = await this.getDomain(p, input);
    requireSuper(p, 'write');
    const d = await this.deps.directory.setLimits(before.name, { ...before.limits, ...limits });
    await this.audit(p, {
      action: 'domain.limits',
      target: d.name,
      domain: d.name,
      before: before.limits,
      after: d.limits,
    });
    return this.domainView(d);
  }

  async removeDomain(p: Principal, input: string, options: { force?: boolean } = {}): Promise<void> {
    const before = await this.getDomain(p, input);
    requireSuper(p, 'write');
    await this.deps.directory.removeDomain(before.name, options);
    await this.audit(p, { action: 'domain.remove', target: before.name, domain: before.name, before });
  }

  // Accounts

  async listAccounts(p: Principal, domain: string): Promise<AccountView[]> {
    const name = (await this.getDomain(p, domain)).name;
    return (await this.deps.directory.listAccounts(name)).map(accountView);
  }

  async getAccount(p: Principal, input: string): Promise<AccountView> {
    const address = addressOf(input);
    requireDomain(p, domainPart(address), 'read');
    const a = await this.store.accounts.get(address);
    if (!a) throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
    return accountView(a);
  }

  async addAccount(
    p: Principal,
    input: { address: string; password: string; quotaBytes?: number },
  ): Promise<AccountView> {
    const address = addressOf(input.address);
    requireDomain(p, domainPart(address), 'write');
    if (!(await this.store.domains.get(domainPart(address))))
      throw new MailError('DOMAIN_NOT_FOUND', `domain ${domainPart(address)} is not hosted`);
    const options = input.quotaBytes === undefined ? {} : { quotaBytes: input.quotaBytes };
    const view = accountView(await this.deps.directory.addAccount(address, input.password, options));
    await this.audit(p, { action: 'account.add', target: address, domain: domainPart(address), after: view });
    return view;
  }

  /** Changes what is given: the password (never logged), the quota, enabled. */
  async updateAccount(
    p: Principal,
    input: string,
    change: { password?: string; quotaBytes?: number; enabled?: boolean },
  ): Promise<AccountView> {
    const before = await this.getAccount(p, input);
    requireDomain(p, domainPart(before.address), 'write');
    const dir = this.deps.directory;
    // What can be refused goes first (the password's rules, then the quota against the domain's
    // limits), so that a refused change leaves nothing half done and unaudited.
    const problem = change.password === undefined ? undefined : this.deps.passwords.problem(change.password);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    if (change.quotaBytes !== undefined) await dir.setQuota(before.address, change.quotaBytes);
    if (change.enabled !== undefined) await dir.setEnabled(before.address, change.enabled);
    if (change.password !== undefined) await dir.setPassword(before.address, change.password);
    const after = await this.getAccount(p, before.address);
    await this.audit(p, {
      action: 'account.update',
      target: before.address,
      domain: domainPart(before.address),
      before,
      after: { ...after, ...(change.password !== undefined ? { password: 'changed' } : {}) },
    });
    return after;
  }

  async removeAccount(p: Principal, input: string): Promise<void> {
    const before = await this.getAccount(p, input);
    requireDomain(p, domainPart(before.address), 'write');
    await this.deps.directory.removeAccount(before.address);
    await this.audit(p, {
      action: 'account.remove',
      target: before.address,
      domain: domainPart(before.address),
      before,
    });
  }

  // Aliases

  async listAliases(p: Principal, domain: string): Promise<Array<{ source: string; destinations: string[] }>> {
    const name = (await this.getDomain(p, domain)).name;
    return this.deps.directory.listAliases(name);
  }

  async getAlias(p: Principal, input: string): Promise<{ source: string; destinations: string[] }> {
    const source = aliasSource(input);
    requireDomain(p, domainPart(source), 'read');
    const alias = await this.deps.directory.getAlias(source);
    if (!alias) throw new MailError('ALIAS_NOT_FOUND', `alias ${source} does not exist`);
    return alias;
  }

  /** Sets an alias's destinations, creating it (within the domain's max_aliases) or replacing them; `create` refuses an existing one. */
  async putAlias(
    p: Principal,
    input: string,
    destinations: string[],
    options: { create?: boolean } = {},
  ): Promise<{ source: string; destinations: string[] }> {
    const source = aliasSource(input);
    const domain = domainPart(source);
    requireDomain(p, domain, 'write');
    if (!(await this.store.domains.get(domain)))
      throw new MailError('DOMAIN_NOT_FOUND', `domain ${domain} is not hosted`);
    const before = await this.deps.directory.getAlias(source);
    if (before && options.create)
      throw new MailError('ALREADY_EXISTS', `alias ${source} already exists; change its destinations instead`);
    const after = await this.deps.directory.setAlias(source, destinations);
    await this.audit(p, { action: 'alias.put', target: source, domain, before: before ?? null, after });
    return after;
  }

  async removeAlias(p: Principal, input: string): Promise<void> {
    const before = await this.getAlias(p, input);
    requireDomain(p, domainPart(before.source), 'write');
    await this.deps.directory.removeAlias(before.source);
    await this.audit(p, { action: 'alias.remove', target: before.source, domain: domainPart(before.source), before });
  }

  // Admins (superadmin only)

  async listAdmins(p: Principal): Promise<AdminView[]> {
    requireSuper(p, 'read');
    return (await this.store.admins.list()).map(adminView);
  }

  async addAdmin(
    p: Principal,
    input: { address: string; password: string; role: 'superadmin' | 'domain'; domains: string[] },
  ): Promise<AdminView> {
    requireSuper(p, 'write');
    const address = addressOf(input.address);
    const isSuper = input.role === 'superadmin';
    if (input.role !== 'superadmin' && input.role !== 'domain')
      throw new MailError('INVALID_INPUT', 'role must be "superadmin" or "domain"');
    const domains = input.domains.map(domainName);
    if (isSuper && domains.length)
      throw new MailError('INVALID_INPUT', 'a superadmin has every domain: give no domains');
    if (!isSuper && !domains.length) throw new MailError('INVALID_INPUT', 'a domain admin needs at least one domain');
    const problem = this.deps.passwords.problem(input.password);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    const passwordHash = await this.deps.passwords.hash(input.password);
    const view = adminView(await this.store.admins.add({ address, passwordHash, isSuper, domains }));
    this.deps.log.info({ admin: address, role: view.role, domains }, 'admin added');
    await this.audit(p, { action: 'admin.add', target: address, domain: null, after: view });
    return view;
  }

  async removeAdmin(p: Principal, input: string): Promise<void> {
    requireSuper(p, 'write');
    const address = addressOf(input);
    const before = await this.store.admins.get(address);
    if (!before) throw new MailError('NOT_FOUND', `admin ${address} does not exist`);
    if (p.kind === 'admin' && p.actor === address)
      throw new MailError('INVALID_INPUT', 'an admin cannot remove themselves; ask another superadmin');
    await this.store.admins.remove(address);
    this.deps.log.info({ admin: address }, 'admin removed');
    await this.audit(p, { action: 'admin.remove', target: address, domain: null, before: adminView(before) });
  }

  // API tokens (an admin's own)

  async createToken(p: Principal, input: NewToken): Promise<{ token: string } & ReturnType<typeof tokenView>> {
    const admin = ownAdmin(p);
    requireScope(p, 'write');
    const { record, token } = makeToken(admin, input);
    await this.store.apiTokens.add(record);
    const view = tokenView(record);
    await this.audit(p, { action: 'token.create', target: record.id, domain: null, after: view });
    return { token, ...view };
  }

  async listTokens(p: Principal): Promise<Array<ReturnType<typeof tokenView>>> {
    requireScope(p, 'read');
    return (await this.store.apiTokens.list(ownAdmin(p))).map(tokenView);
  }

  async removeToken(p: Principal, id: string): Promise<void> {
    const admin = ownAdmin(p);
    requireScope(p, 'write');
    const record = await this.store.apiTokens.get(id);
    if (!record || record.admin !== admin) throw new MailError('NOT_FOUND', `token ${id} does not exist`);
    await this.store.apiTokens.remove(id);
    await this.audit(p, { action: 'token.remove', target: id, domain: null, before: tokenView(record) });
  }

  // The audit log

  /** Newest first; a domain admin sees their domains' entries only. */
  async listAudit(p: Principal, query: { before?: number; limit: number }) {
    requireAdmin(p, 'read');
    const visible = visibleDomains(p);
    const entries = await this.store.audit.list({
      ...query,
      ...(visible ? { domains: [...visible] } : {}),
    });
    return entries.map((e) => ({ ...e, at: e.at.toISOString() }));
  }
}

/** Tokens belong to an admin; the CLI has none. */
function ownAdmin(p: Principal): string {
  if (p.kind !== 'admin') throw new MailError('FORBIDDEN', 'API tokens belong to admins; log in as one');
  return p.actor;
}

function domainName(input: string): string {
  const check = normalizeDomain(input, { requireDot: true });
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  return check.domain;
}

function addressOf(input: string): string {
  const check = normalizeAddress(input);
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  return check.text;
}

function aliasSource(input: string): string {
  const text = input.trim();
  return text.startsWith('@') ? `@${domainName(text.slice(1))}` : addressOf(text);
}

function domainPart(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
