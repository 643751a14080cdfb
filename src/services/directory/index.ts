/**
 * The directory: hosted domains, domain aliases, accounts and aliases. Validates and normalises every
 * name before it reaches the store, so the CLI, the admin API and the protocols share one set of rules.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeAddress, normalizeDomain } from '../../mail/address.js';
import type { AccountRecord, AliasRecord, DomainRecord, SpecialUse, Store } from '../../store/index.js';
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

  async addAccount(input: string, password: string, options: { quotaBytes?: number } = {}): Promise<AccountRecord> {
    const address = addressOrThrow(input);
    const problem = this.deps.passwords.problem(password);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    const quotaBytes = options.quotaBytes ?? 0;
    if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)
      throw new MailError('INVALID_INPUT', 'quota must be a size such as 2G, or 0 for none');
    const passwordHash = await this.deps.passwords.hash(password);
    const account = await this.store.transaction(async (tx) => {
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
    if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)
      throw new MailError('INVALID_INPUT', 'quota must be a size such as 2G, or 0 for none');
    if (!(await this.store.accounts.setQuota(address, quotaBytes)))
      throw new MailError('ACCOUNT_NOT_FOUND', `account ${address} does not exist`);
    this.deps.log.info({ account: address, quotaBytes }, 'quota changed');
    return address;
  }

  async addAlias(sourceInput: string, destinationInputs: string[]): Promise<AliasRecord> {
    const source = aliasSourceOrThrow(sourceInput);
    if (destinationInputs.length === 0)
      throw new MailError('INVALID_INPUT', 'an alias needs at least one destination address');
    const destinations = destinationInputs.map(addressOrThrow);
    if (destinations.includes(source)) throw new MailError('ALIAS_LOOP', `alias ${source} cannot deliver to itself`);
    const record = await this.store.aliases.add(source, destinations);
    this.deps.log.info({ alias: source, destinations }, 'alias added');
    return record;
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
