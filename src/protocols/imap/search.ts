/**
 * SEARCH keys (RFC 9051 §6.4.4, every RFC 3501 key) parsed into a tree and evaluated per message.
 * Header and text keys read the stored envelope where they can and the content only when they must.
 */
import { headerEnd, parseHeaders, type HeaderField } from '../../mail/mime/headers.js';
import { parseSequenceSet, setMatcher, type SeqRange } from './sequence.js';
import { astring, ImapSyntaxError, type Token } from './wire.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'seq'; set: SeqRange[]; match?: (n: number) => boolean }
  | { op: 'uid'; set: SeqRange[]; match?: (n: number) => boolean }
  | { op: 'flag'; flag: string; present: boolean }
  | { op: 'new' }
  | { op: 'old' }
  | { op: 'recent' }
  | { op: 'date'; field: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'size'; cmp: 'larger' | 'smaller'; n: number }
  | { op: 'header'; field: string; value: string }
  | { op: 'text'; where: 'body' | 'text'; value: string; uids?: Set<number> }
  | { op: 'modseq'; n: number };

export interface SearchSpec {
  key: SearchKey;
  charset: string;
  /** ESEARCH RETURN options (RFC 4731); undefined for a plain SEARCH. */
  ret?: Set<'MIN' | 'MAX' | 'ALL' | 'COUNT'>;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Keys in one SEARCH: each is tested against every message, so this bounds the work a command asks for. */
export const MAX_SEARCH_KEYS = 1000;
/**
 * Words in the TEXT and BODY keys of one SEARCH: each word is a scan of the full-text index's
 * vocabulary (substring matching), about 170 ms at a million distinct words.
 */
export const MAX_TEXT_WORDS = 8;

/** Keys and TEXT/BODY words counted across one SEARCH, nested lists included. */
interface Budget {
  keys: number;
  texts: number;
}

/** The tokens of one SEARCH (or one parenthesized list of keys) and how far they are read. */
interface Cursor {
  tokens: Token[];
  i: number;
  budget: Budget;
}

export function parseSearch(tokens: Token[], budget: Budget = { keys: 0, texts: 0 }): SearchSpec {
  const c: Cursor = { tokens, i: 0, budget };
  let ret: SearchSpec['ret'];
  let charset = 'UTF-8';
  const peekAtom = () => (tokens[c.i]?.type === 'atom' ? (tokens[c.i] as { value: string }).value.toUpperCase() : '');
  if (peekAtom() === 'RETURN') {
    c.i++;
    ret = parseReturn(tokens[c.i++]);
  }
  if (peekAtom() === 'CHARSET') {
    c.i++;
    charset = astring(tokens[c.i++]).toUpperCase();
  }
  const keys: SearchKey[] = [];
  while (c.i < tokens.length) keys.push(nextKey(c));
  if (keys.length === 0) throw new ImapSyntaxError('missing search key');
  return { key: keys.length === 1 ? keys[0]! : { op: 'and', keys }, charset, ...(ret ? { ret } : {}) };
}

/** ESEARCH RETURN options (RFC 4731 §3.1); an empty list means ALL. */
function parseReturn(list: Token | undefined): NonNullable<SearchSpec['ret']> {
  if (!list || list.type !== 'list') throw new ImapSyntaxError('RETURN needs a list');
  const ret: NonNullable<SearchSpec['ret']> = new Set();
  for (const o of list.items) {
    const name = astring(o).toUpperCase();
    if (name !== 'MIN' && name !== 'MAX' && name !== 'ALL' && name !== 'COUNT')
      throw new ImapSyntaxError(`unknown RETURN option ${name}`);
    ret.add(name);
  }
  if (ret.size === 0) ret.add('ALL');
  return ret;
}

/** The next search key with its arguments; a parenthesized list is one key. */
function nextKey(c: Cursor): SearchKey {
  const t = c.tokens[c.i++];
  if (!t) throw new ImapSyntaxError('missing search key');
  if (++c.budget.keys > MAX_SEARCH_KEYS) throw new ImapSyntaxError(`more than ${MAX_SEARCH_KEYS} search keys`);
  if (t.type === 'list') {
    const inner = parseSearch(t.items, c.budget);
    return inner.key;
  }
  if (t.type !== 'atom') throw new ImapSyntaxError('invalid search key');
  const k = t.value.toUpperCase();
  if (FLAG_KEYS[k]) return { op: 'flag', flag: FLAG_KEYS[k]![0], present: FLAG_KEYS[k]![1] };
  return atomKey(c, k, t.value);
}

/** A key named by an atom (other than the flag keys), its arguments read from the cursor. */
function atomKey(c: Cursor, k: string, raw: string): SearchKey {
  const arg = () => astring(c.tokens[c.i++]);
  const num = () => {
    const s = arg();
    if (!/^\d{1,20}$/.test(s)) throw new ImapSyntaxError(`${k} needs a number`);
    return Number(s);
  };
  switch (k) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      return { op: 'new' };
    case 'OLD':
      return { op: 'old' };
    case 'RECENT':
      return { op: 'recent' };
    case 'KEYWORD':
      return { op: 'flag', flag: arg(), present: true };
    case 'UNKEYWORD':
      return { op: 'flag', flag: arg(), present: false };
    case 'NOT':
      return { op: 'not', key: nextKey(c) };
    case 'OR': {
      const a = nextKey(c);
      return { op: 'or', a, b: nextKey(c) };
    }
    case 'UID':
      return { op: 'uid', set: parseSequenceSet(arg()) };
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      return { op: 'date', field: 'internal', cmp: k.toLowerCase() as 'on', day: parseDay(arg()) };
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return { op: 'date', field: 'sent', cmp: k.slice(4).toLowerCase() as 'on', day: parseDay(arg()) };
    case 'LARGER':
      return { op: 'size', cmp: 'larger', n: num() };
    case 'SMALLER':
      return { op: 'size', cmp: 'smaller', n: num() };
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
    case 'SUBJECT':
      return { op: 'header', field: k.toLowerCase(), value: arg() };
    case 'HEADER': {
      const field = arg().toLowerCase();
      return { op: 'header', field, value: arg() };
    }
    case 'BODY':
    case 'TEXT': {
      const value = arg();
      c.budget.texts += value.split(/[^\p{L}\p{N}_]+/u).filter(Boolean).length;
      if (c.budget.texts > MAX_TEXT_WORDS)
        throw new ImapSyntaxError(`more than ${MAX_TEXT_WORDS} words in TEXT and BODY keys`);
      return { op: 'text', where: k === 'BODY' ? 'body' : 'text', value };
    }
    case 'MODSEQ':
      return { op: 'modseq', n: num() };
    default:
      if (/^[\d*]/.test(k)) return { op: 'seq', set: parseSequenceSet(raw) };
      throw new ImapSyntaxError(`unknown search key ${k.slice(0, 30)}`);
  }
}

/**
 * The day a date-time names in its own zone (RFC 5322 §3.3: [day-of-week ","] day month year …),
 * as a UTC midnight; two-digit years as §4.3 reads them. Undefined when it is not a date.
 */
export function writtenDay(value: string): number | undefined {
  const m = /(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{2,4})\b/i.exec(value);
  if (!m) {
    const t = Date.parse(value);
    return Number.isNaN(t)
      ? undefined
      : Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth(), new Date(t).getUTCDate());
  }
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  return Date.UTC(year, MONTHS.indexOf(m[2]!.toLowerCase().slice(0, 3)), Number(m[1]));
}

function parseDay(s: string): number {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month < 0) throw new ImapSyntaxError(`invalid date ${s.slice(0, 20)} (write 1-Feb-2026)`);
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

export interface SearchTarget {
  seq: number;
  uid: number;
  flags: string[];
  /** \Recent in this session (RFC 3501 §2.3.2). */
  isRecent: boolean;
  size: number;
  internalDate: Date;
  modseq: number;
  /** Full content, loaded only if a key needs it. */
  content(): Promise<Buffer>;
  /** A header's text from the stored envelope (subject, from, to, cc, bcc), without reading the message. */
  envelopeText?: (field: string) => string | undefined;
}

const ENVELOPE_FIELDS = new Set(['subject', 'from', 'to', 'cc', 'bcc', 'message-id', 'in-reply-to']);

export function hasHeaderKey(k: SearchKey): boolean {
  switch (k.op) {
    case 'and':
      return k.keys.some(hasHeaderKey);
    case 'or':
      return hasHeaderKey(k.a) || hasHeaderKey(k.b);
    case 'not':
      return hasHeaderKey(k.key);
    case 'header':
      return true;
    case 'date':
      return k.field === 'sent';
    default:
      return false;
  }
}

/** Header fields whose envelope value is the raw header text, so it appears verbatim in the stored envelope. */
const RAW_ENVELOPE_FIELDS = new Set(['message-id', 'in-reply-to']);

/**
 * Text every matching message's stored envelope must hold, when the search requires one (a HEADER
 * Message-ID or In-Reply-To key, alone or ANDed): the store can then skip the other rows.
 */
export function envelopePrefilter(k: SearchKey): string | undefined {
  if (k.op === 'header')
    return RAW_ENVELOPE_FIELDS.has(k.field) && /^[\x20-\x7e]+$/.test(k.value) && !/["\\]/.test(k.value)
      ? k.value
      : undefined;
  if (k.op === 'and')
    for (const key of k.keys) {
      const text = envelopePrefilter(key);
      if (text !== undefined) return text;
    }
  return undefined;
}

/** Every TEXT/BODY key of a search, so the caller can answer them from the full-text index. */
export function textKeys(k: SearchKey): Array<Extract<SearchKey, { op: 'text' }>> {
  switch (k.op) {
    case 'and':
      return k.keys.flatMap(textKeys);
    case 'or':
      return [...textKeys(k.a), ...textKeys(k.b)];
    case 'not':
      return textKeys(k.key);
    case 'text':
      return [k];
    default:
      return [];
  }
}

export async function matches(k: SearchKey, m: SearchTarget, ctx: SearchContext): Promise<boolean> {
  switch (k.op) {
    case 'all':
      return true;
    case 'and':
      for (const s of k.keys) if (!(await matches(s, m, ctx))) return false;
      return true;
    case 'or':
      return (await matches(k.a, m, ctx)) || (await matches(k.b, m, ctx));
    case 'not':
      return !(await matches(k.key, m, ctx));
    case 'seq':
      return (k.match ??= setMatcher(k.set, ctx.maxSeq))(m.seq);
    case 'uid':
      return (k.match ??= setMatcher(k.set, ctx.maxUid))(m.uid);
    case 'flag':
      return m.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase()) === k.present;
    // RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT (RFC 9051 drops \Recent; rev1 clients still use it).
    case 'recent':
      return m.isRecent;
    case 'new':
      return m.isRecent && !m.flags.some((f) => f.toLowerCase() === '\\seen');
    case 'old':
      return !m.isRecent;
    case 'size':
      return k.cmp === 'larger' ? m.size > k.n : m.size < k.n;
    case 'modseq':
      return m.modseq >= k.n;
    case 'date': {
      let day: number | undefined;
      if (k.field === 'sent') {
        // RFC 3501 §6.4.4: the Date: header's date, disregarding time and timezone: the day as written.
        const date = (await headersOf(m, ctx)).find((f) => f.key === 'date')?.value;
        day = date ? writtenDay(date) : undefined;
        if (day === undefined) return false;
      } else {
        const t = m.internalDate;
        day = Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
      }
      return k.cmp === 'before' ? day < k.day : k.cmp === 'on' ? day === k.day : day >= k.day;
    }
    case 'header': {
      const fromEnvelope = ENVELOPE_FIELDS.has(k.field) ? m.envelopeText?.(k.field) : undefined;
      if (fromEnvelope !== undefined)
        return k.value === '' ? fromEnvelope !== '' : fromEnvelope.toLowerCase().includes(k.value.toLowerCase());
      const values = (await headersOf(m, ctx)).filter((f) => f.key === k.field).map((f) => f.value);
      if (k.value === '') return values.length > 0;
      const needle = k.value.toLowerCase();
      return values.some((v) => v.toLowerCase().includes(needle));
    }
    case 'text': {
      if (k.uids) return k.uids.has(m.uid);
      const content = await load(m, ctx);
      const hay = k.where === 'text' ? content : content.subarray(headerEnd(content));
      return hay.toString('utf8').toLowerCase().includes(k.value.toLowerCase());
    }
  }
}

/** One message's evaluation: its content and parsed header are read once, however many keys need them. */
export interface SearchContext {
  maxSeq: number;
  maxUid: number;
  content?: Buffer;
  headers?: HeaderField[];
}

async function load(m: SearchTarget, ctx: SearchContext): Promise<Buffer> {
  ctx.content ??= await m.content();
  return ctx.content;
}

async function headersOf(m: SearchTarget, ctx: SearchContext): Promise<HeaderField[]> {
  if (!ctx.headers) {
    const content = await load(m, ctx);
    ctx.headers = parseHeaders(content.subarray(0, headerEnd(content)).toString('utf8'));
  }
  return ctx.headers;
}
