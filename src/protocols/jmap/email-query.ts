/**
 * Email/query (RFC 8621 §4.4) with every filter condition and sort of the RFC, Email/changes
 * (§4.3), Thread/get and Thread/changes (§3). Text conditions (text, body) go to the full-text index
 * mailbox by mailbox; address and subject conditions read the stored envelope; thread keyword
 * conditions and collapseThreads look at every email of the account, which the query lists anyway.
 */
import type { Envelope, EnvelopeAddress } from '../../mail/mime/structure.js';
import { decodeWords } from '../../mail/mime/text.js';
import type { MessageRecord } from '../../store/index.js';
import {
  boolArg,
  changesResponse,
  getIds,
  idNumber,
  intArg,
  invalid,
  jmapId,
  maxChangesArg,
  stringArg,
  unsignedArg,
} from './args.js';
import { isObject, MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { keywordsOf, type EmailDeps } from './email-get.js';
import { hasAttachment } from './email-body.js';
import type { BodyPart } from '../../mail/mime/structure.js';
import { changeSet } from './mailbox.js';

const CONDITIONS = new Set([
  'inMailbox',
  'inMailboxOtherThan',
  'before',
  'after',
  'minSize',
  'maxSize',
  'allInThreadHaveKeyword',
  'someInThreadHaveKeyword',
  'noneInThreadHaveKeyword',
  'hasKeyword',
  'notKeyword',
  'hasAttachment',
  'text',
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'body',
  'header',
]);
/** RFC 8621 §4.4.2: every sort of the RFC (the session's emailQuerySortOptions). */
export const EMAIL_SORTS = [
  'receivedAt',
  'size',
  'from',
  'to',
  'subject',
  'sentAt',
  'hasKeyword',
  'allInThreadHaveKeyword',
  'someInThreadHaveKeyword',
];
const SORTS = new Set(EMAIL_SORTS);
/** Conditions and operators in one filter, and text or body conditions among them (each searches every mailbox). */
const MAX_FILTER_NODES = 100;
const MAX_TEXT_TERMS = 8;
/** The most ids one Email/query returns; the client pages with position or anchor. */
const MAX_QUERY_LIMIT = 1000;

export function emailQueryMethods(deps: EmailDeps): Array<[string, MethodEntry]> {
  return [
    ['Email/query', { capability: MAIL, run: (args, ctx) => query(deps, args, ctx) }],
    ['Email/changes', { capability: MAIL, run: (args, ctx) => emailChanges(deps, args, ctx) }],
    ['Thread/get', { capability: MAIL, run: (args, ctx) => threadGet(deps, args, ctx) }],
    ['Thread/changes', { capability: MAIL, run: (args, ctx) => threadChanges(deps, args, ctx) }],
  ];
}

/** What conditions need besides the row: the account's threads and the full-text hits. */
interface QueryContext {
  threads: Map<number, MessageRecord[]>;
  /** Full-text hits per condition text: "mailboxId:uid". */
  textHits: Map<string, Set<string>>;
}

async function query(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterOperator or FilterCondition');
  if (filter) checkFilterSize(filter);
  const sort = sortArg(args);
  const collapse = boolArg(args, 'collapseThreads', false);
  const position = intArg(args, 'position', 0);
  const limit = Math.min(unsignedArg(args, 'limit', MAX_QUERY_LIMIT), MAX_QUERY_LIMIT);
  const hasAnchor = args.anchor !== undefined && args.anchor !== null;
  const state = await deps.views.state(ctx.accountId);
  const answer = (start: number, ids: string[], total: number) => ({
    accountId: ctx.jmapAccountId,
    queryState: state,
    // Email/queryChanges (email-search.ts) calculates them, but not for collapsed threads.
    canCalculateChanges: !collapse,
    position: start,
    ids,
    ...(boolArg(args, 'calculateTotal', false) ? { total } : {}),
    // RFC 8620 §5.5: a limit clamped (or none given) is returned so the client knows.
    ...(args.limit === undefined || args.limit === null || (args.limit as number) > MAX_QUERY_LIMIT ? { limit } : {}),
  });
  // The webmail's list: one mailbox, newest first, a page: the store pages it.
  const onlyMailbox = filter && Object.keys(filter).length === 1 && typeof filter.inMailbox === 'string';
  const newestFirst = sort.length === 1 && sort[0]!.property === 'receivedAt' && !sort[0]!.isAscending;
  if (onlyMailbox && newestFirst && !collapse && !hasAnchor) {
    const box = idNumber('m', filter.inMailbox as string);
    if (box === undefined) return answer(0, [], 0);
    const total = position < 0 ? (await deps.views.page(ctx.accountId, box, 0, 0)).total : 0;
    const start = position < 0 ? Math.max(0, total + position) : position;
    const page = await deps.views.page(ctx.accountId, box, start, limit);
    return answer(Math.min(start, page.total), page.emailIds.map(jmapId.email), page.total);
  }
  const ids = await allMatching(deps, ctx, filter, sort, collapse);
  let start = position < 0 ? Math.max(0, ids.length + position) : Math.min(position, ids.length);
  if (hasAnchor) {
    const at = ids.indexOf(stringArg(args, 'anchor'));
    if (at < 0) throw new MethodError('anchorNotFound', 'the anchor is not in the results');
    start = Math.max(0, at + intArg(args, 'anchorOffset', 0));
  }
  return answer(start, ids.slice(start, start + limit), ids.length);
}

/** Every email of the account the filter keeps, sorted, one per thread when collapsed. */
export async function allMatching(
  deps: EmailDeps,
  ctx: CallContext,
  filter: Args | null,
  sort: Sort[],
  collapse: boolean,
): Promise<string[]> {
  // Rows are read without what neither the filter nor the sort looks at (a 10,000-email mailbox's envelopes).
  const keys = filter ? conditionKeys(filter) : new Set<string>();
  const needsEnvelope =
    sort.some((x) => ['from', 'to', 'subject', 'sentAt'].includes(x.property)) ||
    ['from', 'to', 'cc', 'bcc', 'subject', 'header'].some((k) => keys.has(k));
  const all = await deps.views.list(ctx.accountId, {
    omit: { ...(needsEnvelope ? {} : { envelope: 'all' as const }), bodyStructure: !keys.has('hasAttachment') },
  });
  const qc: QueryContext = { threads: new Map(), textHits: new Map() };
  for (const m of all) {
    const t = qc.threads.get(m.threadId) ?? [];
    t.push(m);
    qc.threads.set(m.threadId, t);
  }
  if (filter) await gatherText(deps, ctx, filter, qc, 0);
  let found = filter ? all.filter((m) => matches(m, filter, qc)) : all;
  found = [...found].sort(comparator(sort, qc));
  if (collapse) {
    const seen = new Set<number>();
    found = found.filter((m) => !seen.has(m.threadId) && seen.add(m.threadId));
  }
  return found.map((m) => jmapId.email(m.emailId));
}

/** A filter has at most MAX_FILTER_NODES conditions and operators in all, of which MAX_TEXT_TERMS text or body conditions. */
export function checkFilterSize(filter: Args): void {
  let nodes = 0;
  let texts = 0;
  const walk = (f: unknown, depth: number) => {
    if (depth > 10) throw invalid('filters nest at most 10 deep');
    if (!isObject(f)) throw invalid('conditions must be objects');
    if (++nodes > MAX_FILTER_NODES) throw invalid(`a filter has at most ${MAX_FILTER_NODES} conditions and operators`);
    if (f.text !== undefined || f.body !== undefined) texts++;
    if (texts > MAX_TEXT_TERMS) throw invalid(`a filter has at most ${MAX_TEXT_TERMS} text or body conditions`);
    if (Array.isArray(f.conditions)) for (const c of f.conditions) walk(c, depth + 1);
  };
  walk(filter, 0);
}

/** Every condition name a filter uses, at any depth (bounded as gatherText bounds it). */
function conditionKeys(f: Args, depth = 0, out = new Set<string>()): Set<string> {
  if (depth > 10) return out;
  if (Array.isArray(f.conditions)) for (const c of f.conditions) if (isObject(c)) conditionKeys(c, depth + 1, out);
  for (const k of Object.keys(f)) out.add(k);
  return out;
}

interface Sort {
  property: string;
  isAscending: boolean;
  keyword?: string;
}

export function sortArg(args: Args): Sort[] {
  const sort = args.sort ?? null;
  if (sort === null) return [{ property: 'receivedAt', isAscending: false }];
  if (!Array.isArray(sort)) throw invalid('sort must be an array of Comparators');
  return sort.map((s: unknown) => {
    if (!isObject(s) || typeof s.property !== 'string') throw invalid('a Comparator needs a property');
    if (!SORTS.has(s.property)) throw new MethodError('unsupportedSort', `cannot sort by ${s.property.slice(0, 40)}`);
    if (s.property.includes('eyword') && typeof s.keyword !== 'string')
      throw invalid(`sorting by ${s.property} needs a keyword`);
    return {
      property: s.property,
      isAscending: s.isAscending !== false,
      ...(typeof s.keyword === 'string' ? { keyword: s.keyword.toLowerCase() } : {}),
    };
  });
}

function comparator(sort: Sort[], qc: QueryContext): (a: MessageRecord, b: MessageRecord) => number {
  const key = (m: MessageRecord, s: Sort): string | number => {
    // Read only when the sort needs it: the rows may have been read without envelopes.
    const env = () => m.envelope as Envelope | null;
    switch (s.property) {
      case 'receivedAt':
        return m.internalDate.getTime();
      case 'size':
        return m.size;
      case 'from':
      case 'to':
        return firstAddress(env()?.[s.property] ?? []);
      case 'subject':
        return decodeWords(env()?.subject ?? '').toLowerCase();
      case 'sentAt': {
        const date = env()?.date;
        return date ? new Date(date).getTime() || 0 : 0;
      }
      case 'hasKeyword':
        return keywordsOf(m.flags)[s.keyword!] ? 1 : 0;
      case 'allInThreadHaveKeyword':
        return (qc.threads.get(m.threadId) ?? [m]).every((t) => keywordsOf(t.flags)[s.keyword!]) ? 1 : 0;
      default:
        return (qc.threads.get(m.threadId) ?? [m]).some((t) => keywordsOf(t.flags)[s.keyword!]) ? 1 : 0;
    }
  };
  return (a, b) => {
    for (const s of sort) {
      const x = key(a, s);
      const y = key(b, s);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      if (c !== 0) return s.isAscending ? c : -c;
    }
    return b.emailId - a.emailId;
  };
}

function firstAddress(list: EnvelopeAddress[]): string {
  const a = list.find((x) => x.group === undefined);
  if (!a) return '';
  return (a.name ? decodeWords(a.name) : `${a.mailbox ?? ''}@${a.host ?? ''}`).toLowerCase();
}

/** Runs each text and body condition through the full-text index of every mailbox once. */
async function gatherText(deps: EmailDeps, ctx: CallContext, f: Args, qc: QueryContext, depth: number): Promise<void> {
  if (depth > 10) throw invalid('filters nest at most 10 deep');
  if (Array.isArray(f.conditions)) {
    if (f.conditions.length > 50) throw invalid('at most 50 conditions in one operator');
    for (const c of f.conditions) {
      if (!isObject(c)) throw invalid('conditions must be objects');
      await gatherText(deps, ctx, c, qc, depth + 1);
    }
    return;
  }
  for (const key of ['text', 'body'] as const) {
    const value = f[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalid(`${key} must be a string`);
    const id = `${key}:${value}`;
    if (qc.textHits.has(id)) continue;
    const hits = new Set<string>();
    for (const box of await deps.mailboxes.list(ctx.accountId))
      for (const uid of await deps.mailboxes.searchText(box.id, value, key === 'body')) hits.add(`${box.id}:${uid}`);
    qc.textHits.set(id, hits);
  }
}

function matches(m: MessageRecord, f: Args, qc: QueryContext): boolean {
  if (f.operator !== undefined) {
    const conditions = f.conditions;
    if (!Array.isArray(conditions)) throw invalid('a FilterOperator needs conditions');
    // Short-circuit: a condition is evaluated only while it can change the answer.
    const each = (c: unknown) => matches(m, c as Args, qc);
    switch (f.operator) {
      case 'AND':
        return conditions.every(each);
      case 'OR':
        return conditions.some(each);
      case 'NOT':
        return !conditions.some(each);
      default:
        throw new MethodError('unsupportedFilter', 'operator must be AND, OR or NOT');
    }
  }
  for (const key of Object.keys(f))
    if (!CONDITIONS.has(key)) throw new MethodError('unsupportedFilter', `cannot filter emails by ${key.slice(0, 40)}`);
  return Object.entries(f).every(([key, value]) => condition(m, key, value, qc));
}

function condition(m: MessageRecord, key: string, value: unknown, qc: QueryContext): boolean {
  const env = () => m.envelope as Envelope | null;
  const str = () => {
    if (typeof value !== 'string') throw invalid(`${key} must be a string`);
    return value;
  };
  const num = () => {
    if (typeof value !== 'number') throw invalid(`${key} must be a number`);
    return value;
  };
  const thread = () => qc.threads.get(m.threadId) ?? [m];
  const has = (r: MessageRecord) => keywordsOf(r.flags)[str().toLowerCase()] === true;
  switch (key) {
    case 'inMailbox':
      return jmapId.mailbox(m.mailboxId) === str();
    case 'inMailboxOtherThan':
      if (!Array.isArray(value) || value.length > 1000) throw invalid('inMailboxOtherThan must be at most 1000 ids');
      return !value.includes(jmapId.mailbox(m.mailboxId));
    case 'before':
      return m.internalDate.getTime() < dateArg(str());
    case 'after':
      return m.internalDate.getTime() >= dateArg(str());
    case 'minSize':
      return m.size >= num();
    case 'maxSize':
      return m.size < num();
    case 'allInThreadHaveKeyword':
      return thread().every(has);
    case 'someInThreadHaveKeyword':
      return thread().some(has);
    case 'noneInThreadHaveKeyword':
      return !thread().some(has);
    case 'hasKeyword':
      return has(m);
    case 'notKeyword':
      return !has(m);
    case 'hasAttachment': {
      if (typeof value !== 'boolean') throw invalid('hasAttachment must be true or false');
      const structure = m.bodyStructure as BodyPart | null;
      return (structure ? hasAttachment(structure) : false) === value;
    }
    case 'text':
    case 'body':
      return qc.textHits.get(`${key}:${str()}`)?.has(`${m.mailboxId}:${m.uid}`) ?? false;
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
      return addressText(env()?.[key] ?? []).includes(str().toLowerCase());
    case 'subject':
      return decodeWords(env()?.subject ?? '')
        .toLowerCase()
        .includes(str().toLowerCase());
    case 'header':
      return headerCondition(m, value);
    default:
      return false;
  }
}

function dateArg(v: string): number {
  const t = Date.parse(v);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) || Number.isNaN(t))
    throw invalid(`${v.slice(0, 40)} is not a UTCDate`);
  return t;
}

function addressText(list: EnvelopeAddress[]): string {
  return list
    .filter((a) => a.group === undefined)
    .map((a) => `${a.name ? decodeWords(a.name) : ''} <${a.mailbox ?? ''}@${a.host ?? ''}>`)
    .join(', ')
    .toLowerCase();
}

/** `header: [name]` or `[name, text]` (RFC 8621 §4.4.1), on the fields the stored envelope holds. */
function headerCondition(m: MessageRecord, value: unknown): boolean {
  if (!Array.isArray(value) || value.length < 1 || value.length > 2 || !value.every((v) => typeof v === 'string'))
    throw invalid('header must be [name] or [name, text]');
  const env = m.envelope as Envelope | null;
  const name = (value[0] as string).toLowerCase();
  const fields: Record<string, string | null | undefined> = {
    subject: env?.subject,
    date: env?.date,
    'message-id': env?.messageId,
    'in-reply-to': env?.inReplyTo,
    from: env ? addressText(env.from) : null,
    to: env ? addressText(env.to) : null,
    cc: env ? addressText(env.cc) : null,
    'reply-to': env ? addressText(env.replyTo) : null,
    sender: env ? addressText(env.sender) : null,
  };
  if (!(name in fields))
    throw new MethodError('unsupportedFilter', `header conditions read ${Object.keys(fields).join(', ')}`);
  const field = fields[name];
  if (field === null || field === undefined || field === '') return false;
  return value.length === 1 || field.toLowerCase().includes((value[1] as string).toLowerCase());
}

async function emailChanges(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const r = await changeSet(() => deps.views.emailChanges(ctx.accountId, since, maxChangesArg(args)));
  return changesResponse(ctx, r, jmapId.email);
}

async function threadGet(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  if (ids === null) throw new MethodError('requestTooLarge', 'ask for threads by id');
  const state = await deps.views.state(ctx.accountId);
  const wanted = new Map<number, string>();
  const notFound: string[] = [];
  for (const id of new Set(ids)) {
    const n = idNumber('t', id);
    if (n === undefined) notFound.push(id);
    else wanted.set(n, id);
  }
  const emails = await deps.views.inThreads(ctx.accountId, [...wanted.keys()]);
  const byThread = new Map<number, string[]>();
  for (const m of emails) byThread.set(m.threadId, [...(byThread.get(m.threadId) ?? []), jmapId.email(m.emailId)]);
  const list: Args[] = [];
  for (const [n, id] of wanted) {
    const members = byThread.get(n);
    if (members) list.push({ id, emailIds: members });
    else notFound.push(id);
  }
  return { accountId: ctx.jmapAccountId, state, list, notFound };
}

/**
 * Threads whose emails changed: a thread is created with its first email. The change log does not
 * say which thread a removed email was in, so a window with removals cannot be calculated: the client
 * reads its threads again (RFC 8620 §5.2 allows this answer at any time).
 */
async function threadChanges(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const r = await changeSet(() => deps.views.emailChanges(ctx.accountId, since, maxChangesArg(args)));
  const removedFrom = [...r.destroyedThreads.values()];
  if (removedFrom.includes(null))
    throw new MethodError('cannotCalculateChanges', 'emails were removed before the server kept their threads');
  const touched = [...r.created, ...r.updated];
  const now = await deps.views.byIds(ctx.accountId, touched, { envelope: 'all', bodyStructure: true });
  const threads = new Set([...now.map((m) => m.threadId), ...(removedFrom as number[])]);
  const existing = await deps.views.inThreads(ctx.accountId, [...threads]);
  const oldest = new Map<number, number>();
  for (const m of existing) if (!oldest.has(m.threadId)) oldest.set(m.threadId, m.emailId);
  // A thread is its first email's id: made since the state when that email was.
  const created = [...threads].filter((t) => r.created.includes(t) && oldest.get(t) === t);
  // RFC 8620 §5.2: a thread made and emptied since the state may be listed as destroyed.
  const destroyed = [...threads].filter((t) => !oldest.has(t));
  return {
    accountId: ctx.jmapAccountId,
    oldState: r.oldState,
    newState: r.newState,
    hasMoreChanges: r.hasMoreChanges,
    created: created.map(jmapId.thread),
    updated: [...threads].filter((t) => !created.includes(t) && oldest.has(t)).map(jmapId.thread),
    destroyed: destroyed.map(jmapId.thread),
  };
}
