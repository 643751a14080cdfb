/**
 * Mail rules made in a form — filters, forwarding and a vacation reply, what Roundcube's managesieve
 * plugin offers — and the Sieve script (RFC 5228) they are written as. The rules themselves travel in
 * the script, in a comment, so the script is the one place they are kept: ManageSieve, delivery and
 * the account page all see the same thing.
 *
 * Order in the script: the vacation reply (RFC 5230) first, so that a filter's `stop` does not skip
 * it; then forwarding (redirect, with :copy when a copy is kept, RFC 3894); then the filters in order.
 */
import { normalizeAddress } from '../address.js';
import { isValidMailboxName } from '../mailbox-name.js';

export interface Condition {
  /** A header field (from, to, cc, subject, list-id, or any other named in `header`), the size, or the body text. */
  field: 'from' | 'to' | 'cc' | 'subject' | 'list-id' | 'header' | 'size' | 'body';
  /** The field's name when `field` is "header". */
  header?: string;
  /** contains, is, matches (wildcards * and ?), their negations; over and under for the size (bytes). */
  op: 'contains' | 'notcontains' | 'is' | 'notis' | 'matches' | 'notmatches' | 'over' | 'under';
  value: string;
}

export type Action =
  | { type: 'fileinto'; mailbox: string }
  | { type: 'redirect'; to: string; copy?: boolean }
  | { type: 'flag'; flag: 'seen' | 'flagged' }
  | { type: 'reject'; reason: string }
  | { type: 'discard' }
  | { type: 'stop' };

export interface Filter {
  name: string;
  enabled: boolean;
  /** allof or anyof the conditions; no conditions: every message. */
  match: 'all' | 'any';
  conditions: Condition[];
  actions: Action[];
}

export interface Forwarding {
  enabled: boolean;
  to: string[];
  /** Keep a copy in this account as well. */
  keepCopy: boolean;
}

export interface Vacation {
  enabled: boolean;
  subject: string;
  body: string;
  /** A sender gets one reply per this many days (RFC 5230 :days). */
  days: number;
  /** The account's other addresses the reply is sent for (RFC 5230 :addresses). */
  addresses: string[];
  /** Mail arriving from then (UTCDate, "2026-12-20T00:00:00Z") gets the reply; null: already. */
  fromDate: string | null;
  /** Mail arriving from then on gets no reply; null: no end. */
  toDate: string | null;
  /** The reply as HTML too ("" for none): sent as multipart/alternative with `body` as its text. */
  html: string;
}

export interface MailRules {
  filters: Filter[];
  forwarding: Forwarding;
  vacation: Vacation;
}

export const EMPTY_RULES: MailRules = {
  filters: [],
  forwarding: { enabled: false, to: [], keepCopy: true },
  vacation: {
    enabled: false,
    subject: 'Out of office',
    body: '',
    days: 7,
    addresses: [],
    fromDate: null,
    toDate: null,
    html: '',
  },
};

export const RULE_LIMITS = {
  filters: 50,
  conditions: 10,
  actions: 5,
  /** As [managesieve] max_redirects' default: a message is redirected at most 4 times. */
  forwardTo: 4,
  text: 1000,
  vacationBody: 16 * 1024,
};

const MARKER = '# postern-rules: ';

/** A rule the form cannot express, said so it can be fixed. */
export class RuleError extends Error {}

/** Checks and normalises rules as a client sent them (untrusted JSON); throws RuleError. */
export function checkRules(input: unknown, own: string): MailRules {
  const o = object(input, 'the rules');
  const rules = {
    filters: checkFilters(o.filters ?? []),
    forwarding: checkForwarding(o.forwarding ?? EMPTY_RULES.forwarding, own),
    vacation: checkVacation(o.vacation ?? EMPTY_RULES.vacation),
  };
  // A message matching every filter must stay within the redirects a script may make (or delivery
  // keeps it in INBOX with a run-time error).
  const redirects =
    (rules.forwarding.enabled ? rules.forwarding.to.length : 0) +
    rules.filters
      .filter((f) => f.enabled)
      .reduce((n, f) => n + f.actions.filter((a) => a.type === 'redirect').length, 0);
  if (redirects > RULE_LIMITS.forwardTo)
    throw new RuleError(
      `forwarding and the filters' redirects send a message to ${redirects} addresses; at most ${RULE_LIMITS.forwardTo}`,
    );
  // RFC 5230 §4.7: a message rejected gets no vacation reply; delivery would refuse the pair.
  const rejecting = rules.filters.find((f) => f.enabled && f.actions.some((a) => a.type === 'reject'));
  if (rules.vacation.enabled && rejecting)
    throw new RuleError(
      `filter "${rejecting.name}" rejects mail, which cannot go with a vacation reply: make it discard, or turn the reply off`,
    );
  return rules;
}

export function checkForwarding(input: unknown, own: string): Forwarding {
  const o = object(input, 'forwarding');
  const to = list(o.to ?? [], 'forwarding "to"', RULE_LIMITS.forwardTo).map((a) => address(a, 'forwarding'));
  if (to.includes(own.toLowerCase())) throw new RuleError('forwarding to the account itself would loop');
  const enabled = bool(o.enabled, 'forwarding "enabled"');
  if (enabled && to.length === 0) throw new RuleError('forwarding needs at least one address in "to"');
  return { enabled, to, keepCopy: o.keepCopy === undefined ? true : bool(o.keepCopy, 'forwarding "keepCopy"') };
}

export function checkVacation(input: unknown): Vacation {
  const o = object(input, 'the vacation reply');
  const enabled = bool(o.enabled, 'vacation "enabled"');
  const subject = text(o.subject ?? '', 'vacation "subject"', 200, false);
  const body = text(o.body ?? '', 'vacation "body"', RULE_LIMITS.vacationBody, true);
  if (enabled && !body.trim()) throw new RuleError('a vacation reply needs a "body"');
  const days = o.days === undefined ? 7 : o.days;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 30)
    throw new RuleError('vacation "days" is a whole number from 1 to 30');
  const addresses = list(o.addresses ?? [], 'vacation "addresses"', 20).map((a) => address(a, 'vacation'));
  const fromDate = utcDate(o.fromDate, 'vacation "fromDate"');
  const toDate = utcDate(o.toDate, 'vacation "toDate"');
  if (fromDate && toDate && toDate <= fromDate) throw new RuleError('vacation "toDate" must come after "fromDate"');
  const html = text(o.html ?? '', 'vacation "html"', RULE_LIMITS.vacationBody, true);
  return { enabled, subject, body, days, addresses, fromDate, toDate, html };
}

/** A UTCDate (RFC 8620 §1.4) or null, written without fractions. */
function utcDate(v: unknown, what: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v)))
    throw new RuleError(`${what} is a UTC date and time such as 2026-12-20T08:00:00Z, or null`);
  return new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function checkFilters(input: unknown): Filter[] {
  return list(input, 'filters', RULE_LIMITS.filters).map((f, i) => checkFilter(f, `filter ${i + 1}`));
}

function checkFilter(input: unknown, where: string): Filter {
  const o = object(input, where);
  const name = text(o.name ?? '', `${where} "name"`, 100, false).trim() || where;
  const match = o.match ?? 'all';
  if (match !== 'all' && match !== 'any') throw new RuleError(`${where}: "match" is "all" or "any"`);
  const conditions = list(o.conditions ?? [], `${where} conditions`, RULE_LIMITS.conditions).map((c) =>
    checkCondition(c, where),
  );
  const actions = list(o.actions, `${where} actions`, RULE_LIMITS.actions).map((a) => checkAction(a, where));
  if (actions.length === 0) throw new RuleError(`${where} needs at least one action`);
  // RFC 5429 §2.1: a rejected message is not also filed, kept or redirected.
  if (actions.some((a) => a.type === 'reject') && actions.some((a) => a.type !== 'reject' && a.type !== 'stop'))
    throw new RuleError(`${where}: reject goes alone (with stop at most)`);
  return {
    name,
    enabled: o.enabled === undefined ? true : bool(o.enabled, `${where} "enabled"`),
    match,
    conditions,
    actions,
  };
}

const FIELDS = ['from', 'to', 'cc', 'subject', 'list-id', 'header', 'size', 'body'] as const;
const TEXT_OPS = ['contains', 'notcontains', 'is', 'notis', 'matches', 'notmatches'] as const;

function checkCondition(input: unknown, where: string): Condition {
  const o = object(input, `${where} condition`);
  const field = o.field as Condition['field'];
  if (!FIELDS.includes(field)) throw new RuleError(`${where}: a condition's "field" is one of ${FIELDS.join(', ')}`);
  const op = o.op as Condition['op'];
  if (field === 'size') {
    if (op !== 'over' && op !== 'under') throw new RuleError(`${where}: a size is "over" or "under"`);
    const value = String(o.value ?? '');
    if (!/^\d{1,12}$/.test(value)) throw new RuleError(`${where}: a size is a number of bytes`);
    return { field, op, value };
  }
  if (!(TEXT_OPS as readonly string[]).includes(op))
    throw new RuleError(`${where}: a condition's "op" is one of ${TEXT_OPS.join(', ')}`);
  const value = text(o.value ?? '', `${where} condition value`, RULE_LIMITS.text, false);
  if (field !== 'header') return { field, op, value };
  const header = typeof o.header === 'string' ? o.header.trim() : '';
  if (!/^[\x21-\x39\x3b-\x7e]{1,76}$/.test(header))
    throw new RuleError(`${where}: "header" names a header field (printable ASCII, no colon)`);
  return { field, header, op, value };
}

function checkAction(input: unknown, where: string): Action {
  const o = object(input, `${where} action`);
  switch (o.type) {
    case 'fileinto': {
      const mailbox = typeof o.mailbox === 'string' ? o.mailbox.trim() : '';
      if (!isValidMailboxName(mailbox)) throw new RuleError(`${where}: "${mailbox}" is not a folder name`);
      return { type: 'fileinto', mailbox };
    }
    case 'redirect':
      return { type: 'redirect', to: address(o.to, where), copy: o.copy === true };
    case 'flag':
      if (o.flag !== 'seen' && o.flag !== 'flagged') throw new RuleError(`${where}: "flag" is "seen" or "flagged"`);
      return { type: 'flag', flag: o.flag };
    case 'reject':
      return { type: 'reject', reason: text(o.reason ?? '', `${where} reject reason`, RULE_LIMITS.text, true) };
    case 'discard':
    case 'stop':
      return { type: o.type };
    default:
      throw new RuleError(`${where}: an action's "type" is fileinto, redirect, flag, reject, discard or stop`);
  }
}

/** The Sieve script of the rules, with the rules in its marker comment. */
export function rulesScript(rules: MailRules): string {
  const requires = new Set<string>();
  const body: string[] = [];
  const v = rules.vacation;
  if (v.enabled) {
    requires.add('vacation');
    const addresses = v.addresses.length ? ` :addresses ${stringList(v.addresses)}` : '';
    const reply = v.html ? `:mime ${quote(alternative(v.body, v.html))}` : quote(v.body);
    const command = `vacation :days ${v.days} :subject ${quote(v.subject)}${addresses} ${reply};`;
    // RFC 5260 §5: the dates as currentdate tests in UTC, ISO 8601 strings compared as text.
    const when = [
      ...(v.fromDate ? [`currentdate :zone "+0000" :value "ge" "iso8601" ${quote(iso8601(v.fromDate))}`] : []),
      ...(v.toDate ? [`currentdate :zone "+0000" :value "lt" "iso8601" ${quote(iso8601(v.toDate))}`] : []),
    ];
    if (when.length) requires.add('date').add('relational');
    body.push(
      '# vacation reply',
      ...(when.length
        ? [`if ${when.length === 1 ? when[0] : `allof (${when.join(', ')})`} {`, `  ${command}`, '}']
        : [command]),
    );
  }
  const f = rules.forwarding;
  if (f.enabled) {
    if (f.keepCopy) requires.add('copy');
    body.push('# forwarding', ...f.to.map((to) => `redirect${f.keepCopy ? ' :copy' : ''} ${quote(to)};`));
  }
  for (const filter of rules.filters) {
    if (!filter.enabled) continue;
    body.push(`# filter: ${filter.name.replace(/[\r\n]/g, ' ')}`);
    const tests = filter.conditions.map((c) => conditionTest(c, requires));
    const actions = filter.actions.map((a) => `  ${actionCommand(a, requires)}`);
    if (tests.length === 0) body.push(...actions.map((a) => a.slice(2)));
    else {
      const test =
        tests.length === 1 ? tests[0]! : `${filter.match === 'all' ? 'allof' : 'anyof'} (${tests.join(', ')})`;
      body.push(`if ${test} {`, ...actions, '}');
    }
  }
  const head = [
    '# Mail rules of the account page (filters, forwarding, vacation reply). Edit them there:',
    '# a change made to this script elsewhere is replaced when they are saved again.',
    MARKER + Buffer.from(JSON.stringify(rules)).toString('base64'),
  ];
  if (requires.size) head.push(`require ${stringList([...requires].sort())};`);
  return [...head, ...body, ''].join('\r\n');
}

/** The rules kept in a script written by rulesScript, or undefined for any other script. */
export function rulesOf(script: string): MailRules | undefined {
  const line = script.split(/\r?\n/).find((l) => l.startsWith(MARKER));
  if (!line) return undefined;
  try {
    return checkRules(JSON.parse(Buffer.from(line.slice(MARKER.length), 'base64').toString('utf8')), '');
  } catch {
    return undefined;
  }
}

function conditionTest(c: Condition, requires: Set<string>): string {
  if (c.field === 'size') return `size :${c.op} ${c.value}`;
  const negate = c.op.startsWith('not');
  const match = negate ? c.op.slice(3) : c.op;
  let test: string;
  if (c.field === 'body') {
    requires.add('body');
    test = `body :text :${match} ${quote(c.value)}`;
  } else test = `header :${match} ${quote(c.field === 'header' ? c.header! : c.field)} ${quote(c.value)}`;
  return negate ? `not ${test}` : test;
}

function actionCommand(a: Action, requires: Set<string>): string {
  switch (a.type) {
    case 'fileinto':
      requires.add('fileinto').add('mailbox');
      return `fileinto :create ${quote(a.mailbox)};`;
    case 'redirect':
      if (a.copy) requires.add('copy');
      return `redirect${a.copy ? ' :copy' : ''} ${quote(a.to)};`;
    case 'flag':
      requires.add('imap4flags');
      return `addflag ${quote(a.flag === 'seen' ? '\\Seen' : '\\Flagged')};`;
    case 'reject':
      requires.add('reject');
      return `reject ${quote(a.reason || 'Refused by the recipient’s rules')};`;
    case 'discard':
      return 'discard;';
    case 'stop':
      return 'stop;';
  }
}

/** RFC 5228 §2.4.2: a quoted string, with \ and " escaped. */
function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function stringList(items: string[]): string {
  return `[${items.map(quote).join(', ')}]`;
}

function object(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new RuleError(`${what} must be a JSON object`);
  return input as Record<string, unknown>;
}

function list(input: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(input)) throw new RuleError(`${what} must be a list`);
  if (input.length > max) throw new RuleError(`at most ${max} ${what}`);
  return input;
}

function bool(input: unknown, what: string): boolean {
  if (typeof input !== 'boolean') throw new RuleError(`${what} is true or false`);
  return input;
}

/** Text without NUL (and without line breaks unless `multiline`), at most `max` characters. */
function text(input: unknown, what: string, max: number, multiline: boolean): string {
  if (typeof input !== 'string') throw new RuleError(`${what} must be text`);
  if (input.length > max) throw new RuleError(`${what} is longer than ${max} characters`);
  if (/\0/.test(input) || (!multiline && /[\r\n]/.test(input)))
    throw new RuleError(`${what} has a character it may not hold (NUL${multiline ? '' : ' or a line break'})`);
  return multiline ? input.replace(/\r?\n/g, '\r\n') : input;
}

function address(input: unknown, what: string): string {
  const check = normalizeAddress(typeof input === 'string' ? input : '');
  if (!check.ok) throw new RuleError(`${what}: "${String(input)}" ${check.reason}`);
  return check.text;
}

/** "2026-12-20T08:00:00Z" as RFC 5260's iso8601 date-part writes it in zone +0000. */
function iso8601(utc: string): string {
  return utc.replace(/Z$/, '+00:00');
}

/** RFC 5230 §4.4 :mime: the reply as a multipart/alternative entity of its text and its HTML. */
function alternative(text: string, html: string): string {
  let boundary = 'postern-vacation';
  while (text.includes(boundary) || html.includes(boundary)) boundary += '-x';
  const part = (type: string, content: string) =>
    `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${content.replace(/\r?\n/g, '\r\n')}\r\n`;
  return (
    `Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n` +
    `${part('text/plain', text)}${part('text/html', html)}--${boundary}--\r\n`
  );
}
