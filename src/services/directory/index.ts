/**
 * The directory: hosted domains, domain aliases, accounts and aliases. Validates and normalises every
 * name before it reaches the store, so the CLI, the admin API and the protocols share one set of rules.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeAddress, normalizeDomain } from '../../mail/address.js';
import type {
  AccountRecord,
  AliasRecord,
  DomainLimits,
  DomainRecord,
  SpecialUse,
  Store,
  Tx,
} from '../../store/index.js';
import type { PasswordPolicy } from '../auth/password.js';
import { hostedDomain, ownsAddress, resolveRecipient, type Resolution } from './recipients.js';

export { type Destination, type Resolution } from './recipients.js';

/** Created with every account (RFC 6154 special-use attributes). */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse?: SpecialUse }> = [
  { name: 'INBOX' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export interface DirectoryDeps {
  store: Store;
  passwords: PasswordPolicy;
  log: Logger;
  /** Runs after a hosted (non-alias) domain is added: the composition root gives it a DKIM key there. */
  onDomainAdded?: ((domain: DomainRecord) => Promise<void>) | undefined;
}

export class Directory {
  constructor(private readonly deps: DirectoryDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  async addDomain(input: string, options: { aliasOf?: string } = {}): Promise<DomainRecord> {
    const name = domainOrThrow(input);
    const aliasOf = options.aliasOf === undefined ? undefined : domainOrThrow(options.aliasOf);
    if (aliasOf === name) throw new MailError('INVALID_INPUT', `domain ${name} cannot be an alias of itself`);
    const record = await this.store.domains.add(name, aliasOf === undefined ? {} : { aliasOf });
    this.deps.log.info({ domain: name, aliasOf }, 'domain added');
    if (!record.aliasOf) await this.deps.onDomainAdded?.(record);
    return record;
  }

  listDomains(): Promise<DomainRecord[]> {
    return this.store.domains.list();
  }

  /** Refuses a domain that still has accounts unless `force`, which removes them with their mail. */
  async removeDomain(input: string, options: { force?: boolean } = {}): Promise<string> {
    const name = domainOrThrow(input);
    await this.store.transaction(async (tx) => {
      if (!(await tx.domains.get(name))) throw new MailError('DOMAIN_NOT_FOUND', `domain ${name} is not hosted`);
      const accounts = await tx.domains.accountCount(name);
      if (accounts > 0 && !options.force) {
        throw new MailError(
          'DOMAIN_NOT_EMPTY',
          `domain ${name} still has ${accounts} account(s); remove them first or pass --force to delete them and their mail`,
        );
      }
      await tx.domains.remove(name);
    });
    this.deps.log.info({ domain: name, force: options.force === true }, 'domain removed');
    return name;
  }

  /** The hosted domain that receives mail for `name` (itself, or the target of a domain alias). */
  async hostedDomain(name: string): Promise<string | undefined> {
    const check = normalizeDomain(name);
    if (!check.ok) return undefined;
    return hostedDomain(this.store, check.domain);
  }

  /** Where mail for an address goes (recipients.ts); `sender` '' for a bounce, which alone may use an SRS address. */
  resolveRecipient(input: string, options: { srsSecret?: Buffer; sender?: string } = {}): Promise<Resolution> {
    return resolveRecipient(this.store, input, options);
  }

  /** May the account `accountAddress` send as `input` (recipients.ts)? */
  ownsAddress(accountAddress: string, input: string): Promise<boolean> {
    return ownsAddress(this.store, accountAddress, input);
  }

  /**
   * Creates an account with the default mailboxes. The domain's limits (PostfixAdmin's) hold here, in
   * the transaction that adds it: the number of accounts, and the sum of their quotas; an account
   * given no quota gets the domain's default.
   */
  async addAccount(input: string, password: string, options: { quotaBytes?: number } = {}): Promise<AccountRecord> {
    const address = addressOrThrow(input);
    const problem = this.deps.passwords.problem(password);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    if (options.quotaBytes !== undefined) quotaOrThrow(options.quotaBytes);
    const passwordHash = await this.deps.passwords.hash(password);
    const domainName = address.slice(address.lastIndexOf('@') + 1);
    const account = await this.store.transaction(async (tx) => {
      const domain = await tx.domains.get(domainName);
      const limits = domain?.limits;
      const quotaBytes = options.quotaBytes ?? limits?.defaultQuotaBytes ?? 0;
      if (limits?.maxAccounts && (await tx.domains.accountCount(domainName)) >= limits.maxAccounts)
        throw new MailError(
          'LIMIT_REACHED',
          `domain ${domainName} may have at most ${limits.maxAccounts} accounts; remove one or raise its max_accounts`,
        );
      if (limits) await quotaFits(tx, domainName, limits.maxQuotaBytes, quotaBytes);
      const created = await tx.accounts.add({ address, passwordHash, quotaBytes });
      for (const mb of DEFAULT_MAILBOXES)
        await tx.mailboxes.create(created.id, mb.name, {
          isSubscribed: true,
          ...(mb.specialUse ? { specialUse: mb.specialUse } : {}),
        });
      return created;
    });
    this.deps.log.info({ account: address }, 'account added');
    return account;
  }

  getAccount(input: string): Promise<AccountRecord | undefined> {
    const check = normalizeAddress(input);
    return check.ok ? this.store.accounts.get(check.text) : Promise.resolve(undefined);
  }

  async listAccounts(domain?: string): Promise<AccountRecord[]> {
    return this.store.accounts.list(domain === undefined ? undefined : domainOrThrow(domain));
  }

  async removeAccount(input: string): Promise<string> {
    const address = addressOrThrow(input);
    if (!(await this.store.accounts.remove(address)))
      throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
    this.deps.log.info({ account: address }, 'account removed');
    return address;
  }

  async setPassword(input: string, password: string): Promise<string> {
    const address = addressOrThrow(input);
    const problem = this.deps.passwords.problem(password);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    if (!(await this.store.accounts.get(address)))
      throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
    await this.store.accounts.setPassword(address, await this.deps.passwords.hash(password));
    this.deps.log.info({ account: address }, 'password changed');
    return address;
  }

  async setQuota(input: string, quotaBytes: number): Promise<string> {
    const address = addressOrThrow(input);
    quotaOrThrow(quotaBytes);
    await this.store.transaction(async (tx) => {
      const account = await tx.accounts.get(address);
      if (!account) throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
      const domain = await tx.domains.get(account.domain);
      if (domain) await quotaFits(tx, account.domain, domain.limits.maxQuotaBytes, quotaBytes, account.quotaBytes);
      await tx.accounts.setQuota(address, quotaBytes);
    });
    this.deps.log.info({ account: address, quotaBytes }, 'quota changed');
    return address;
  }

  async setEnabled(input: string, isEnabled: boolean): Promise<string> {
    const address = addressOrThrow(input);
    if (!(await this.store.accounts.setEnabled(address, isEnabled)))
      throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
    this.deps.log.info({ account: address, isEnabled }, isEnabled ? 'account enabled' : 'account disabled');
    return address;
  }

  /** Sets a hosted domain's limits (0 = none). */
  async setLimits(input: string, limits: DomainLimits): Promise<DomainRecord> {
    const name = domainOrThrow(input);
    for (const [key, value] of Object.entries(limits))
      if (!Number.isSafeInteger(value) || value < 0)
        throw new MailError('INVALID_INPUT', `${key} must be a whole number of at least 0 (0 = no limit)`);
    const domain = await this.store.domains.get(name);
    if (!domain || domain.aliasOf) throw new MailError('DOMAIN_NOT_FOUND', `domain ${name} is not hosted`);
    await this.store.domains.setLimits(name, limits);
    this.deps.log.info({ domain: name, limits }, 'domain limits changed');
    return { ...domain, limits };
  }

  /** Adds destinations to an alias, creating it within the domain's max_aliases. */
  addAlias(sourceInput: string, destinationInputs: string[]): Promise<AliasRecord> {
    return this.writeAlias(sourceInput, destinationInputs, false);
  }

  /** Sets an alias's destinations to these (replacing those it had), creating it within max_aliases. */
  setAlias(sourceInput: string, destinationInputs: string[]): Promise<AliasRecord> {
    return this.writeAlias(sourceInput, destinationInputs, true);
  }

  private async writeAlias(sourceInput: string, destinationInputs: string[], replace: boolean): Promise<AliasRecord> {
    const source = aliasSourceOrThrow(sourceInput);
    if (destinationInputs.length === 0)
      throw new MailError('INVALID_INPUT', 'an alias needs at least one destination address');
    const destinations = destinationInputs.map(addressOrThrow);
    if (destinations.includes(source)) throw new MailError('ALIAS_LOOP', `alias ${source} cannot deliver to itself`);
    const domainName = source.slice(source.lastIndexOf('@') + 1);
    const record = await this.store.transaction(async (tx) => {
      const max = (await tx.domains.get(domainName))?.limits.maxAliases ?? 0;
      const exists = (await tx.aliases.get(source)) !== undefined;
      if (max && !exists && (await tx.domains.aliasCount(domainName)) >= max)
        throw new MailError(
          'LIMIT_REACHED',
          `domain ${domainName} may have at most ${max} aliases; remove one or raise its max_aliases`,
        );
      if (replace && exists) await tx.aliases.remove(source);
      return tx.aliases.add(source, destinations);
    });
    this.deps.log.info({ alias: source, destinations, replace }, 'alias written');
    return record;
  }

  async getAlias(sourceInput: string): Promise<AliasRecord | undefined> {
    return this.store.aliases.get(aliasSourceOrThrow(sourceInput));
  }

  async listAliases(domain?: string): Promise<AliasRecord[]> {
    return this.store.aliases.list(domain === undefined ? undefined : domainOrThrow(domain));
  }

  async removeAlias(sourceInput: string, destinationInputs: string[] = []): Promise<string> {
    const source = aliasSourceOrThrow(sourceInput);
    const destinations = destinationInputs.map(addressOrThrow);
    if (!(await this.store.aliases.remove(source, destinations))) {
      throw new MailError(
        'ALIAS_NOT_FOUND',
        destinations.length
          ? `alias ${source} has none of ${destinations.join(', ')}`
          : `alias ${source} does not exist`,
      );
    }
    this.deps.log.info({ alias: source, destinations }, 'alias removed');
    return source;
  }
}

function quotaOrThrow(quotaBytes: number): void {
  if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)
    throw new MailError('INVALID_INPUT', 'quota must be a size such as 2G, or 0 for none');
}

/**
 * LIMIT_REACHED when an account's quota going from `before` to `after` would make the domain's quotas
 * add up past its max_quota_bytes; within such a domain every account needs a quota (0 is none).
 */
async function quotaFits(tx: Tx, domain: string, maxQuotaBytes: number, after: number, before = 0): Promise<void> {
  if (!maxQuotaBytes) return;
  if (after === 0)
    throw new MailError('LIMIT_REACHED', `domain ${domain} has a max_quota: give the account a quota such as 1G`);
  const growth = after - before;
  if (growth <= 0) return;
  const total = await tx.domains.quotaTotal(domain);
  if (total + growth > maxQuotaBytes)
    throw new MailError(
      'LIMIT_REACHED',
      `the quotas of domain ${domain} would add up to ${total + growth} bytes, over its max_quota of ${maxQuotaBytes}`,
    );
}

function domainOrThrow(input: string): string {
  const check = normalizeDomain(input, { requireDot: true });
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  return check.domain;
}

function addressOrThrow(input: string): string {
  const check = normalizeAddress(input);
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  return check.text;
}

/** `user@domain`, or `@domain` for a catch-all. */
function aliasSourceOrThrow(input: string): string {
  const text = input.trim();
  if (text.startsWith('@')) return `@${domainOrThrow(text.slice(1))}`;
  return addressOrThrow(text);
}
