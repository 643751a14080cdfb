/**
 * Self-service for account owners (the API's /me): their account and quota use, their password
 * (the current one asked again), their mail rules (self-rules.ts), and app passwords — one random password per mail client, usable
 * for IMAP, POP3, SMTP and ManageSieve but never for this self-service, shown once and revocable one
 * by one. Every change is audited with the owner as the actor.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { AccountRecord, Store } from '../../store/index.js';
import { appPasswordHash, appPasswordToken, makeAppPassword } from '../../lib/secret.js';
import type { PasswordPolicy } from '../auth/password.js';
import type { SieveScripts } from '../sieve/index.js';
import { callerAccount, type Principal } from './access.js';
import { writeAudit } from './audit.js';
import { SelfRules } from './self-rules.js';

/** App passwords per account. */
export const MAX_APP_PASSWORDS = 20;

export interface SelfServiceDeps {
  store: Store;
  passwords: PasswordPolicy;
  sieve: SieveScripts;
  log: Logger;
}

export class SelfService {
  /** Filters, forwarding and the vacation reply (self-rules.ts). */
  readonly rules: SelfRules;

  constructor(private readonly deps: SelfServiceDeps) {
    this.rules = new SelfRules(deps);
  }

  private account(p: Principal): Promise<AccountRecord> {
    return callerAccount(this.deps.store, p);
  }

  async me(p: Principal) {
    const a = await this.account(p);
    return {
      address: a.address,
      quotaBytes: a.quotaBytes,
      usedBytes: a.usedBytes,
      appPasswords: (await this.deps.store.appPasswords.list(a.id)).length,
    };
  }

  async setPassword(p: Principal, current: string, next: string): Promise<void> {
    const a = await this.account(p);
    if (!(await this.deps.passwords.verify(a.passwordHash, current)))
      throw new MailError('INVALID_INPUT', 'the current password is not right');
    const problem = this.deps.passwords.problem(next);
    if (problem) throw new MailError('INVALID_INPUT', `password ${problem}`);
    await this.deps.store.accounts.setPassword(a.address, await this.deps.passwords.hash(next));
    this.deps.log.info({ account: a.address }, 'password changed by its owner');
    await writeAudit(this.deps.store, p, {
      action: 'me.password',
      target: a.address,
      domain: a.domain,
      after: { password: 'changed' },
    });
  }

  async listAppPasswords(p: Principal) {
    const a = await this.account(p);
    return (await this.deps.store.appPasswords.list(a.id)).map((x) => ({
      id: x.id,
      name: x.name,
      createdAt: x.createdAt.toISOString(),
    }));
  }

  /** A new app password named for its client; the text is returned this once. */
  async addAppPassword(p: Principal, nameInput: string) {
    const a = await this.account(p);
    const name = nameInput.trim();
    if (!name || name.length > 100 || /\p{Cc}/u.test(name))
      throw new MailError('INVALID_INPUT', 'an app password needs a name of 1 to 100 printable characters');
    if ((await this.deps.store.appPasswords.list(a.id)).length >= MAX_APP_PASSWORDS)
      throw new MailError('LIMIT_REACHED', `at most ${MAX_APP_PASSWORDS} app passwords; revoke one first`);
    const password = makeAppPassword();
    const record = await this.deps.store.appPasswords.add(a.id, name, appPasswordHash(password));
    const view = { id: record.id, name: record.name, createdAt: record.createdAt.toISOString() };
    await writeAudit(this.deps.store, p, {
      action: 'me.app-password.add',
      target: a.address,
      domain: a.domain,
      after: view,
    });
    // The same secret as a bearer token, for JMAP clients that send one (docs/jmap.md).
    return { ...view, password, token: appPasswordToken(record.id, password) };
  }

  async removeAppPassword(p: Principal, id: number): Promise<void> {
    const a = await this.account(p);
    if (!(await this.deps.store.appPasswords.remove(a.id, id)))
      throw new MailError('NOT_FOUND', `no app password ${id}`);
    await writeAudit(this.deps.store, p, {
      action: 'me.app-password.remove',
      target: a.address,
      domain: a.domain,
      before: { id },
    });
  }
}
