/**
 * Sieve interpreter (RFC 5228 §2.10, §4, §5) over a message seen through SieveMessage, with the
 * extensions compile.ts accepts: fileinto, reject/ereject (RFC 5429), envelope, imap4flags (RFC 5232),
 * copy (RFC 3894), vacation (RFC 5230), subaddress (RFC 5233), relational (RFC 5231), body (RFC 5173),
 * variables (RFC 5229), mailbox (RFC 5490), spamtest, spamtestplus and virustest (RFC 5235, values
 * in spamtest.ts) and date (RFC 5260, dates.ts). It returns the actions to take; delivery takes them.
 * Sieve has no loops, so a run is bounded by the script's size; :matches is polynomial (memoized).
 * Comparators and match types are in match.ts, address parts in addresses.ts, variables and flag
 * variables in variables.ts, the run-time error and work budget in runtime.ts.
 */
import { argsOf, type CompiledScript, type Command, type Test } from './compile.js';
import { addressParts, isRedirectAddress, parseAddresses } from './addresses.js';
import { asciiLower, compare, relation, wildcardMatch } from './match.js';
import { MAX_RUN_COST, SieveRuntimeError } from './runtime.js';
import { spamtestValue, spamVerdict, virustestValue } from './spamtest.js';
import { datePart, headerDate, localZone, parseZone } from './dates.js';
import { FLAGS_VAR, splitFlags, truncate, uniqueFlags } from './variables.js';

export { SieveRuntimeError } from './runtime.js';
export { wildcardMatch } from './match.js';

export interface SieveMessage {
  /** Decoded (RFC 2047) values of a header field, in order; [] when absent. */
  header(name: string): string[];
  /** RFC 5228 §5.4: "from" is '' for the null sender; "to" is the recipient being delivered to. */
  envelope: { from: string; to: string; auth?: string | undefined };
  size: number;
  /** RFC 5173 §5: the body as one or more strings for the given transform. */
  body(transform: { kind: 'raw' } | { kind: 'text' } | { kind: 'content'; types: string[] }): string[];
  mailboxExists(name: string): boolean;
  /** The time of delivery, for currentdate (RFC 5260 §5); now when absent. */
  now?: Date;
}

export type SieveAction =
  | { type: 'keep'; flags: string[] }
  | { type: 'fileinto'; mailbox: string; flags: string[]; create: boolean }
  | { type: 'redirect'; address: string }
  | { type: 'discard' }
  | { type: 'reject'; reason: string; ereject: boolean }
  | {
      type: 'vacation';
      reason: string;
      subject: string | undefined;
      from: string | undefined;
      addresses: string[];
      mime: boolean;
      handle: string;
      days: number;
    };

export interface SieveLimitsRun {
  maxRedirects: number;
  /** Actions per run (fileinto, redirect, vacation …). */
  maxActions: number;
}

/** Body text a body test looks at (RFC 5173 lets an implementation bound it). */
export const MAX_BODY_SCAN = 1 << 20;

class Run {
  readonly actions: SieveAction[] = [];
  private implicitKeep = true;
  private redirects = 0;
  private readonly variables = new Map<string, string>();
  private match: string[] = [];
  private readonly useVariables: boolean;
  /** What is left of MAX_RUN_COST. */
  private readonly budget = { left: MAX_RUN_COST };

  constructor(
    private readonly script: CompiledScript,
    private readonly msg: SieveMessage,
    private readonly limits: SieveLimitsRun,
  ) {
    this.useVariables = script.requires.has('variables');
  }

  /** Returns false when `stop` ran. */
  block(commands: Command[]): boolean {
    let skipElse = false;
    for (const c of commands) {
      switch (c.name) {
        case 'require':
          continue;
        case 'if':
          skipElse = this.test(c.tests[0]!);
          if (skipElse && !this.block(c.block!)) return false;
          continue;
        case 'elsif':
          if (skipElse) continue;
          skipElse = this.test(c.tests[0]!);
          if (skipElse && !this.block(c.block!)) return false;
          continue;
        case 'else':
          if (!skipElse && !this.block(c.block!)) return false;
          skipElse = false;
          continue;
        case 'stop':
          return false;
        default:
          skipElse = false;
          this.command(c);
      }
    }
    return true;
  }

  finish(): SieveAction[] {
    // RFC 5228 §2.10.2: the implicit keep files into INBOX unless an action cancelled it.
    if (this.implicitKeep) this.add({ type: 'keep', flags: this.flags() });
    return this.actions;
  }

  private add(action: SieveAction): void {
    if (this.actions.length >= this.limits.maxActions)
      throw new SieveRuntimeError(`more than ${this.limits.maxActions} actions`);
    // RFC 5228 §2.10.3: the same mailbox or address once; keep and fileinto "INBOX" are the same action.
    const key = (a: SieveAction) =>
      a.type === 'keep'
        ? 'fileinto:INBOX'
        : a.type === 'fileinto'
          ? `fileinto:${a.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : a.mailbox}`
          : a.type === 'redirect'
            ? `redirect:${a.address.toLowerCase()}`
            : a.type;
    const k = key(action);
    const same = this.actions.findIndex((a) => key(a) === k);
    if (same >= 0) {
      if (action.type === 'vacation') throw new SieveRuntimeError('vacation used twice');
      if (action.type === 'reject') throw new SieveRuntimeError('reject used twice');
      // A later keep/fileinto with flags replaces the earlier one's flags (Pigeonhole does the same).
      if (action.type === 'keep' || action.type === 'fileinto') this.actions[same] = action;
      return;
    }
    // RFC 5429 §2.1: reject cannot be combined with delivering the message anywhere, nor with
    // vacation (Pigeonhole refuses the same combinations).
    const delivers = (a: SieveAction) =>
      a.type === 'keep' || a.type === 'fileinto' || a.type === 'redirect' || a.type === 'vacation';
    if (
      (action.type === 'reject' && this.actions.some(delivers)) ||
      (delivers(action) && this.actions.some((a) => a.type === 'reject'))
    ) {
      throw new SieveRuntimeError(
        `reject cannot be combined with ${action.type === 'reject' ? this.actions.find(delivers)!.type : action.type}`,
      );
    }
    this.actions.push(action);
  }

  private command(c: Command): void {
    const a = argsOf(c);
    const str = (v: unknown) => this.expand(v as string);
    switch (c.name) {
      case 'keep':
        this.implicitKeep = false;
        this.add({
          type: 'keep',
          flags: a.tags.has('flags') ? this.flagList(a.tags.get('flags') as string[]) : this.flags(),
        });
        return;
      case 'discard':
        this.implicitKeep = false;
        return;
      case 'fileinto': {
        if (!a.tags.has('copy')) this.implicitKeep = false;
        const mailbox = str(a.positional[0]);
        if (mailbox === '') throw new SieveRuntimeError('fileinto with an empty mailbox name');
        this.add({
          type: 'fileinto',
          mailbox,
          create: a.tags.has('create'),
          flags: a.tags.has('flags') ? this.flagList(a.tags.get('flags') as string[]) : this.flags(),
        });
        return;
      }
      case 'redirect': {
        const address = str(a.positional[0]).trim();
        // RFC 5228 §4.2: a syntactically invalid address is a run-time error.
        if (!isRedirectAddress(address))
          throw new SieveRuntimeError(`redirect to an invalid address "${address.slice(0, 100)}"`);
        if (++this.redirects > this.limits.maxRedirects)
          throw new SieveRuntimeError(`more than ${this.limits.maxRedirects} redirects`);
        if (!a.tags.has('copy')) this.implicitKeep = false;
        this.add({ type: 'redirect', address });
        return;
      }
      case 'reject':
      case 'ereject':
        this.implicitKeep = false;
        this.add({ type: 'reject', reason: str(a.positional[0]), ereject: c.name === 'ereject' });
        return;
      case 'vacation': {
        const reason = str(a.positional[0]);
        const days = a.tags.has('days') ? Math.min(Math.max(a.tags.get('days') as number, 1), 90) : 7; // RFC 5230 §4.1: default 7, minimum 1
        const subject = a.tags.has('subject') ? str(a.tags.get('subject')) : undefined;
        const from = a.tags.has('from') ? str(a.tags.get('from')) : undefined;
        const addresses = ((a.tags.get('addresses') as string[] | undefined) ?? []).map((s) => this.expand(s));
        const mime = a.tags.has('mime');
        // RFC 5230 §4.2: without :handle, the reason, subject, from and mime arguments identify the reply.
        const handle = a.tags.has('handle')
          ? str(a.tags.get('handle'))
          : `${reason}\u0000${subject ?? ''}\u0000${from ?? ''}\u0000${mime}`;
        this.add({ type: 'vacation', reason, days, subject, from, addresses, mime, handle });
        return;
      }
      case 'setflag':
      case 'addflag':
      case 'removeflag': {
        const name = a.positional.length === 2 ? (a.positional[0] as string).toLowerCase() : FLAGS_VAR;
        const list = this.flagList(a.positional[a.positional.length - 1] as string[]);
        const current = splitFlags(this.variables.get(name) ?? '');
        let next: string[];
        if (c.name === 'setflag') next = list;
        else if (c.name === 'addflag')
          next = [...current, ...list.filter((f) => !current.some((x) => x.toLowerCase() === f.toLowerCase()))];
        else next = current.filter((f) => !list.some((x) => x.toLowerCase() === f.toLowerCase()));
        this.setVariable(name, uniqueFlags(next).join(' '));
        return;
      }
      case 'set': {
        let value = str(a.positional[1]);
        // RFC 5229 §4.1: modifiers apply from the highest precedence down.
        if (a.tags.has('lower')) value = value.toLowerCase();
        if (a.tags.has('upper')) value = value.toUpperCase();
        if (a.tags.has('lowerfirst')) value = value.charAt(0).toLowerCase() + value.slice(1);
        if (a.tags.has('upperfirst')) value = value.charAt(0).toUpperCase() + value.slice(1);
        if (a.tags.has('quotewildcard')) value = value.replace(/[*?\\]/g, (ch) => `\\${ch}`);
        if (a.tags.has('length')) value = String([...value].length);
        this.setVariable((a.positional[0] as string).toLowerCase(), value);
        return;
      }
      default:
        throw new SieveRuntimeError(`command ${c.name} is not implemented`);
    }
  }

  private setVariable(name: string, value: string): void {
    this.variables.set(name, truncate(value));
  }

  private flags(): string[] {
    return splitFlags(this.variables.get(FLAGS_VAR) ?? '');
  }

  private flagList(list: string[]): string[] {
    return uniqueFlags(list.flatMap((s) => splitFlags(this.expand(s))));
  }

  /** RFC 5229 §3: ${name} and ${N} are replaced when "variables" is required. */
  private expand(s: string): string {
    if (!this.useVariables || !s.includes('${')) return s;
    return s.replace(/\$\{([A-Za-z0-9_.]+)\}/g, (whole, name: string) => {
      if (/^[0-9]+$/.test(name)) return this.match[Number(name)] ?? '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return whole; // namespaced: unknown namespaces stay as written
      return this.variables.get(name.toLowerCase()) ?? '';
    });
  }

  private test(t: Test): boolean {
    const a = argsOf(t);
    switch (t.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !this.test(t.tests[0]!);
      case 'allof':
        return t.tests.every((x) => this.test(x));
      case 'anyof':
        return t.tests.some((x) => this.test(x));
      case 'size': {
        const over = a.tags.get('over');
        return typeof over === 'number' ? this.msg.size > over : this.msg.size < (a.tags.get('under') as number);
      }
      case 'exists':
        return this.list(a.positional[0]).every((h) => this.msg.header(h).length > 0);
      case 'header':
        return this.matchValues(
          a,
          this.list(a.positional[0]).flatMap((h) => this.msg.header(h)),
          this.list(a.positional[1]),
        );
      case 'address': {
        const values = this.list(a.positional[0]).flatMap((h) => this.msg.header(h).flatMap(parseAddresses));
        return this.matchValues(a, addressParts(values, a.tags), this.list(a.positional[1]));
      }
      case 'envelope': {
        const values = this.list(a.positional[0]).flatMap((part) => {
          const v = this.msg.envelope[part.toLowerCase() as 'from' | 'to' | 'auth'];
          return v === undefined ? [] : [v];
        });
        // RFC 5228 §5.4: the null reverse-path is the empty string, matched as a whole.
        const parts = values.flatMap((v) =>
          v === ''
            ? a.tags.has('localpart') || a.tags.has('domain') || a.tags.has('user') || a.tags.has('detail')
              ? []
              : ['']
            : addressParts([v], a.tags),
        );
        return this.matchValues(a, parts, this.list(a.positional[1]));
      }
      case 'body': {
        const transform = a.tags.has('raw')
          ? { kind: 'raw' as const }
          : a.tags.has('content')
            ? { kind: 'content' as const, types: this.list(a.tags.get('content')) }
            : { kind: 'text' as const };
        // RFC 5173 §4: :contains is the default in practice; the default match type stays :is per RFC 5228.
        return this.matchValues(a, this.msg.body(transform), this.list(a.positional[0]));
      }
      case 'string': {
        const values = this.list(a.positional[0]);
        // RFC 5229 §5: for :count, empty strings are not counted.
        return this.matchValues(
          a,
          a.tags.has('count') ? values.filter((v) => v !== '') : values,
          this.list(a.positional[1]),
        );
      }
      case 'hasflag': {
        const vars = a.positional.length === 2 ? this.list(a.positional[0]).map((v) => v.toLowerCase()) : [FLAGS_VAR];
        const flags = vars.flatMap((v) => splitFlags(this.variables.get(v) ?? ''));
        return this.matchValues(a, flags, this.list(a.positional[a.positional.length - 1]));
      }
      case 'mailboxexists':
        return this.list(a.positional[0]).every((m) => this.msg.mailboxExists(m));
      case 'date':
      case 'currentdate':
        return this.matchValues(a, this.dateValues(t.name, a), this.list(a.positional.at(-1)));
      case 'spamtest':
      case 'virustest': {
        const header = (name: string) => this.msg.header(name);
        const value =
          t.name === 'virustest' ? virustestValue(header) : spamtestValue(spamVerdict(header), a.tags.has('percent'));
        // RFC 5235 §3.1: the default comparator is i;ascii-casemap, as for every test (Pigeonhole's
        // too): a relational :value compares numbers only with :comparator "i;ascii-numeric".
        return this.matchValues(a, [value], [this.expand(a.positional[0] as string)]);
      }
      default:
        throw new SieveRuntimeError(`test ${t.name} is not implemented`);
    }
  }

  /** RFC 5260 §4, §5: the date-part of the header field's first date or of now; none when there is no date. */
  private dateValues(test: string, a: ReturnType<typeof argsOf>): string[] {
    let when: { at: Date; zone: number } | undefined;
    if (test === 'currentdate') {
      const at = this.msg.now ?? new Date();
      when = { at, zone: localZone(at) };
    } else {
      const [first] = this.msg.header(this.expand(a.positional[0] as string));
      when = first === undefined ? undefined : headerDate(first);
      if (when && !a.tags.has('originalzone')) when = { at: when.at, zone: localZone(when.at) };
    }
    if (!when) return [];
    const zone = a.tags.get('zone');
    if (typeof zone === 'string') {
      const z = parseZone(this.expand(zone));
      if (z === undefined) return [];
      when = { at: when.at, zone: z };
    }
    const part = datePart(when.at, when.zone, this.expand(a.positional[test === 'date' ? 1 : 0] as string));
    if (part === undefined) throw new SieveRuntimeError(`unknown date-part in ${test}`);
    return [part];
  }

  private list(v: unknown): string[] {
    return (v as string[]).map((s) => this.expand(s));
  }

  /** RFC 5228 §2.7: true when any value matches any key; :matches sets ${0}…${N} (RFC 5229 §3.2). */
  private matchValues(a: ReturnType<typeof argsOf>, values: string[], keys: string[]): boolean {
    const comparator = (a.tags.get('comparator') as string | undefined) ?? 'i;ascii-casemap';
    const count = a.tags.get('count');
    if (typeof count === 'string') {
      return keys.some((k) => relation(count, compare(comparator, String(values.length), k)));
    }
    const value = a.tags.get('value');
    const caseless = comparator !== 'i;octet';
    // Each value is lowered once, not once per key.
    const folded = a.tags.has('contains') && caseless ? values.map(asciiLower) : values;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      for (const k of keys) {
        this.charge(v.length + k.length);
        if (typeof value === 'string') {
          if (relation(value, compare(comparator, v, k))) return true;
        } else if (a.tags.has('contains')) {
          if (comparator === 'i;ascii-numeric') continue; // RFC 4790 §9.1: no substring operation
          if (folded[i]!.includes(caseless ? asciiLower(k) : k)) return true;
        } else if (a.tags.has('matches')) {
          const captures = wildcardMatch(k, v, caseless, this.budget);
          if (captures) {
            if (this.useVariables) this.match = captures;
            return true;
          }
        } else if (compare(comparator, v, k) === 0) {
          return true;
        }
      }
    }
    return false;
  }

  private charge(cost: number): void {
    this.budget.left -= cost;
    if (this.budget.left < 0) throw new SieveRuntimeError('the script needs too much work for this message');
  }
}

export function runScript(script: CompiledScript, msg: SieveMessage, limits: SieveLimitsRun): SieveAction[] {
  const run = new Run(script, msg, limits);
  run.block(script.commands);
  return run.finish();
}
