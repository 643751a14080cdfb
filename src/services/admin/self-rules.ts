/**
 * The account owner's mail rules (the API's /me/rules, /me/vacation, /me/forwarding, /me/filters):
 * filters, forwarding and a vacation reply made in a form, kept as one Sieve script of the account
 * (mail/sieve/rules.ts) through the Sieve service, so ManageSieve and delivery see what the form
 * wrote. Saving activates that script; a script of the owner's own that was active stays stored,
 * inactive, and is named in the answer. Every change is audited with the owner as the actor.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { Mutex } from '../../lib/mutex.js';
import { SieveError } from '../../mail/sieve/compile.js';
import {
  checkFilters,
  checkForwarding,
  checkRules,
  checkVacation,
  EMPTY_RULES,
  RuleError,
  rulesOf,
  rulesScript,
  type MailRules,
} from '../../mail/sieve/rules.js';
import type { AccountRecord, Store } from '../../store/index.js';
import type { SieveScripts } from '../sieve/index.js';
import { callerAccount, type Principal } from './access.js';
import { writeAudit } from './audit.js';

/** The script the rules are kept in. */
export const RULES_SCRIPT = 'account-rules';

export interface RulesView extends MailRules {
  /** The rules' script is the account's active script: delivery follows them. */
  active: boolean;
  /** The account's active script when it is another one (made over ManageSieve). */
  activeScript: string | null;
}

type Part = 'vacation' | 'forwarding' | 'filters';

export class SelfRules {
  /** Saves are read-modify-write of one script: one at a time. */
  private readonly saving = new Mutex();

  constructor(private readonly deps: { store: Store; sieve: SieveScripts; log: Logger }) {}

  private account(p: Principal): Promise<AccountRecord> {
    return callerAccount(this.deps.store, p);
  }

  async get(p: Principal): Promise<RulesView> {
    return this.view(await this.account(p));
  }

  /** Replaces one part of the rules (the others kept), writes the script and activates it. */
  async set(p: Principal, part: Part, input: unknown): Promise<RulesView> {
    const a = await this.account(p);
    const release = await this.saving.lock();
    try {
      const before = await this.current(a);
      // The account page's form has no dates or HTML for the vacation reply: what it leaves out stays.
      const given =
        part === 'vacation' && typeof input === 'object' && input !== null && !Array.isArray(input)
          ? { fromDate: before.vacation.fromDate, toDate: before.vacation.toDate, html: before.vacation.html, ...input }
          : input;
      const next: MailRules = { ...before, [part]: this.checkPart(part, given, a.address) };
      let rules: MailRules;
      try {
        rules = checkRules(next, a.address);
      } catch (err) {
        if (err instanceof RuleError) throw new MailError('INVALID_INPUT', err.message);
        throw err;
      }
      try {
        await this.deps.sieve.put(a.id, RULES_SCRIPT, rulesScript(rules));
      } catch (err) {
        // The rules are checked; what is left is a limit of [managesieve] or a script too large.
        if (err instanceof SieveError)
          throw new MailError('INVALID_INPUT', `the rules make a script Sieve refuses: ${err.message}`);
        throw err;
      }
      const previous = (await this.deps.store.sieve.active(a.id))?.name ?? null;
      if (previous !== RULES_SCRIPT) await this.deps.sieve.setActive(a.id, RULES_SCRIPT);
      this.deps.log.info({ account: a.address, part, replacedActive: previous }, 'mail rules saved by their owner');
      await writeAudit(this.deps.store, p, {
        action: `me.${part}`,
        target: a.address,
        domain: a.domain,
        before: { [part]: before[part] },
        after: { [part]: rules[part] },
      });
      return this.view(a);
    } finally {
      release();
    }
  }

  private checkPart(part: Part, input: unknown, own: string): MailRules[Part] {
    try {
      if (part === 'vacation') return checkVacation(input);
      if (part === 'forwarding') return checkForwarding(input, own);
      return checkFilters(input);
    } catch (err) {
      if (err instanceof RuleError) throw new MailError('INVALID_INPUT', err.message);
      throw err;
    }
  }

  /** The rules in the account's rules script; a script of that name not written from rules is refused. */
  private async current(a: AccountRecord): Promise<MailRules> {
    const script = await this.deps.store.sieve.get(a.id, RULES_SCRIPT);
    if (!script) return EMPTY_RULES;
    const rules = rulesOf(script.content);
    if (!rules)
      throw new MailError(
        'ALREADY_EXISTS',
        `the Sieve script "${RULES_SCRIPT}" was not written by this page: rename or delete it over ManageSieve first`,
      );
    return rules;
  }

  private async view(a: AccountRecord): Promise<RulesView> {
    const active = (await this.deps.store.sieve.active(a.id))?.name ?? null;
    const script = await this.deps.store.sieve.get(a.id, RULES_SCRIPT);
    const rules = (script && rulesOf(script.content)) ?? EMPTY_RULES;
    return {
      ...rules,
      active: active === RULES_SCRIPT,
      activeScript: active === RULES_SCRIPT ? null : active,
    };
  }
}
