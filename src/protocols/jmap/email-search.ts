/**
 * Email/queryChanges (RFC 8620 §5.6) and SearchSnippet/get (RFC 8621 §5).
 *
 * Query changes come from the account change log: every email created, changed or destroyed since
 * the query state is "removed", and those of them in the results now are "added" at their index —
 * the RFC's allowed over-approximation (a changed email may have moved). Collapsed threads are not
 * calculated (a change to one email can change which email stands for its thread).
 *
 * Snippets mark the words of the filter's text conditions in the subject and in an excerpt of the
 * body, HTML-escaped, with <mark>.
 */
import type { Envelope } from '../../mail/mime/structure.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { decodeWords, htmlToText } from '../../mail/mime/text.js';
import { boolArg, getIds, idNumber, invalid, jmapId, stringArg, unsignedArg } from './args.js';
import { isObject, MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { bodyLists, partText } from './email-body.js';
import type { EmailDeps } from './email-get.js';
import { allMatching, checkFilterSize, sortArg } from './email-query.js';
import { changeSet } from './mailbox.js';

/** Words of the filter's text, body, subject and address conditions that snippets mark. */
const MARKED = ['text', 'body', 'subject', 'from', 'to', 'cc', 'bcc'];
/** Characters of body around the first mark. */
const EXCERPT = 200;

export function emailSearchMethods(deps: EmailDeps): Array<[string, MethodEntry]> {
  return [
    ['Email/queryChanges', { capability: MAIL, run: (args, ctx) => queryChanges(deps, args, ctx) }],
    ['SearchSnippet/get', { capability: MAIL, run: (args, ctx) => snippets(deps, args, ctx) }],
  ];
}

async function queryChanges(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceQueryState');
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterOperator or FilterCondition');
  if (filter) checkFilterSize(filter);
  if (boolArg(args, 'collapseThreads', false))
    throw new MethodError('cannotCalculateChanges', 'changes of collapsed threads are not calculated: query again');
  const max = unsignedArg(args, 'maxChanges', Number.MAX_SAFE_INTEGER);
  const changes = await changeSet(() => deps.views.emailChanges(ctx.accountId, since, Number.MAX_SAFE_INTEGER));
  if (changes.hasMoreChanges) throw new MethodError('cannotCalculateChanges', 'too many changes: query again');
  const changed = new Set([...changes.created, ...changes.updated, ...changes.destroyed].map(jmapId.email));
  const ids = await allMatching(deps, ctx, filter, sortArg(args), false);
  const added = ids.flatMap((id, index) => (changed.has(id) ? [{ id, index }] : []));
  if (changed.size + added.length > max) throw new MethodError('tooManyChanges', `more than ${max} changes`);
  return {
    accountId: ctx.jmapAccountId,
    oldQueryState: since,
    newQueryState: changes.newState,
    removed: [...changed],
    added,
    ...(boolArg(args, 'calculateTotal', false) ? { total: ids.length } : {}),
  };
}

async function snippets(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterOperator or FilterCondition');
  if (filter) checkFilterSize(filter);
  const ids = getIds({ ids: args.emailIds ?? null });
  if (ids === null) throw invalid('emailIds is required');
  const words = filter ? filterWords(filter, 0) : [];
  const wanted = new Map<number, string>();
  const notFound: string[] = [];
  for (const id of new Set(ids)) {
    const n = idNumber('e', id);
    if (n === undefined) notFound.push(id);
    else wanted.set(n, id);
  }
  const found = new Map((await deps.views.byIds(ctx.accountId, [...wanted.keys()])).map((m) => [m.emailId, m]));
  const list: Args[] = [];
  for (const [n, id] of wanted) {
    const m = found.get(n);
    if (!m) {
      notFound.push(id);
      continue;
    }
    const subject = decodeWords((m.envelope as Envelope | null)?.subject ?? '');
    list.push({
      emailId: id,
      subject: words.length ? mark(subject, words) : null,
      preview: words.length ? excerpt(bodyOf(await deps.mailboxes.content(m)), words) : null,
    });
  }
  return { accountId: ctx.jmapAccountId, list, notFound };
}

/** The words of the filter's text conditions, lower case (operators walked, bounded as queries are). */
function filterWords(f: Args, depth: number): string[] {
  if (depth > 10) return [];
  const out: string[] = [];
  if (Array.isArray(f.conditions) && f.operator !== 'NOT')
    for (const c of f.conditions) if (isObject(c)) out.push(...filterWords(c, depth + 1));
  for (const key of MARKED) {
    const v = f[key];
    if (typeof v === 'string')
      out.push(
        ...v
          .toLowerCase()
          .split(/[^\p{L}\p{N}]+/u)
          .filter((w) => w.length > 1),
      );
  }
  return [...new Set(out)].slice(0, 16);
}

/** The text a reader sees first: the first text part, HTML as its text, at most 64 KB. */
function bodyOf(content: Buffer): string {
  const first = bodyLists(parseMessage(content).structure).text.find((n) => n.part.type === 'text');
  if (!first) return '';
  const text = partText(content, first.part).slice(0, 64 * 1024);
  return (first.part.subtype === 'html' ? htmlToText(text) : text).replace(/\s+/g, ' ').trim();
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The text, HTML-escaped, with every word starting with one of `words` in <mark>; null when none is there. */
function mark(text: string, words: string[]): string | null {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    if (!words.some((w) => m[0].toLowerCase().startsWith(w))) continue;
    out += `${escapeHtml(text.slice(last, m.index))}<mark>${escapeHtml(m[0])}</mark>`;
    last = m.index + m[0].length;
  }
  return out ? out + escapeHtml(text.slice(last)) : null;
}

/** Up to EXCERPT characters of the body around the first marked word, marked; null when none is there. */
function excerpt(body: string, words: string[]): string | null {
  const lower = body.toLowerCase();
  let at = -1;
  for (const w of words) {
    const re = new RegExp(`(^|[^\\p{L}\\p{N}])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'u');
    const m = re.exec(lower);
    if (m && (at < 0 || m.index < at)) at = m.index + m[1]!.length;
  }
  if (at < 0) return null;
  const start = Math.max(0, at - EXCERPT / 4);
  const piece = body.slice(start, start + EXCERPT);
  return mark(piece, words);
}
