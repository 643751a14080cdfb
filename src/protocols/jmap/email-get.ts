/**
 * Email/get (RFC 8621 §4.2): metadata from the stored row, the header convenience properties from the
 * stored envelope and, when a property needs it, the content read once per email (references, the
 * body properties, header:{name}:as{Form}).
 */
import type { BodyPart, Envelope, EnvelopeAddress } from '../../mail/mime/structure.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { headerValues } from '../../mail/mime/headers.js';
import { decodeWords } from '../../mail/mime/text.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import type { MessageRecord } from '../../store/index.js';
import { boolArg, getIds, getProperties, idNumber, invalid, jmapId, unsignedArg } from './args.js';
import { LIMITS, MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { bodyLists, bodyPart, bodyValue, hasAttachment, partBlobId, preview } from './email-body.js';
import { headerProperty, msgIds, parseProperty } from './headers.js';

export const EMAIL_PROPERTIES = [
  'id',
  'blobId',
  'threadId',
  'mailboxIds',
  'keywords',
  'size',
  'receivedAt',
  'messageId',
  'inReplyTo',
  'references',
  'sender',
  'from',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'sentAt',
  'hasAttachment',
  'preview',
  'headers',
  'bodyStructure',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
] as const;
const DEFAULTS = EMAIL_PROPERTIES.filter((p) => p !== 'headers' && p !== 'bodyStructure');
/** Properties read from the content, not the stored row. */
const FROM_CONTENT = new Set([
  'references',
  'preview',
  'headers',
  'bodyStructure',
  'bodyValues',
  'textBody',
  'htmlBody',
  'attachments',
]);
const BODY_PROPERTIES = [
  'partId',
  'blobId',
  'size',
  'name',
  'type',
  'charset',
  'disposition',
  'cid',
  'language',
  'location',
];

export interface EmailDeps {
  mailboxes: Mailboxes;
  views: EmailViews;
}

export function emailGetMethod(deps: EmailDeps): [string, MethodEntry] {
  return ['Email/get', { capability: MAIL, run: (args, ctx) => get(deps, args, ctx) }];
}

/** IMAP flags as JMAP keywords (RFC 8621 §4.1.1): system flags by their $ names, lower case. */
export function keywordsOf(flags: string[]): Record<string, true> {
  const out: Record<string, true> = {};
  for (const f of flags) {
    if (f === '\\Recent' || f === '\\Deleted') continue;
    out[f.startsWith('\\') ? `$${f.slice(1).toLowerCase()}` : f.toLowerCase()] = true;
  }
  return out;
}

async function get(deps: EmailDeps, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const props = getProperties(args, EMAIL_PROPERTIES, DEFAULTS);
  for (const p of props) if (p.startsWith('header:')) parseProperty(p); // invalidArguments for a malformed one
  const bodyProps = bodyPropertiesArg(args);
  const options = valueOptions(args);
  const state = await deps.views.state(ctx.accountId);
  let records: MessageRecord[];
  const notFound: string[] = [];
  if (ids === null) {
    const total = (await deps.views.counts(ctx.accountId)).reduce((n, c) => n + c.emails, 0);
    if (total > LIMITS.maxObjectsInGet)
      throw new MethodError(
        'requestTooLarge',
        `the account holds more than ${LIMITS.maxObjectsInGet} emails: ask by id`,
      );
    records = await deps.views.list(ctx.accountId);
    if (records.length > LIMITS.maxObjectsInGet)
      throw new MethodError(
        'requestTooLarge',
        `the account holds more than ${LIMITS.maxObjectsInGet} emails: ask by id`,
      );
  } else {
    const wanted = new Map<number, string>();
    for (const id of new Set(ids)) {
      const n = idNumber('e', id);
      if (n === undefined) notFound.push(id);
      else wanted.set(n, id);
    }
    const found = new Map((await deps.views.byIds(ctx.accountId, [...wanted.keys()])).map((r) => [r.emailId, r]));
    records = [];
    // In the order asked for: a client shows the page of a query in its order.
    for (const [n, id] of wanted) {
      const r = found.get(n);
      if (r) records.push(r);
      else notFound.push(id);
    }
  }
  const needsContent = [...props].some((p) => FROM_CONTENT.has(p) || p.startsWith('header:'));
  const list: Args[] = [];
  for (const m of records) {
    const content = needsContent ? await deps.mailboxes.content(m) : undefined;
    const env = m.envelope as Envelope | null;
    const source = {
      row: (p: string) => rowProperty(m, env, p),
      structure: m.bodyStructure as BodyPart | null,
      content,
      blobOf: (partId: string) => partBlobId(jmapId.blob(m.emailId), partId),
    };
    list.push(emailObject(source, props, bodyProps, options));
  }
  return { accountId: ctx.jmapAccountId, state, list, notFound };
}

export function bodyPropertiesArg(args: Args): Set<string> {
  const v = args.bodyProperties ?? null;
  if (v === null) return new Set([...BODY_PROPERTIES, 'headers', 'subParts']);
  if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) throw invalid('bodyProperties must be names');
  return new Set(v as string[]);
}

/** Which body values to fetch and how many bytes of each (RFC 8621 §4.2 fetch*BodyValues, maxBodyValueBytes). */
export function valueOptions(args: Args): ValueOptions {
  return {
    text: boolArg(args, 'fetchTextBodyValues', false),
    html: boolArg(args, 'fetchHTMLBodyValues', false),
    all: boolArg(args, 'fetchAllBodyValues', false),
    max: unsignedArg(args, 'maxBodyValueBytes', 0),
  };
}

export interface ValueOptions {
  text: boolean;
  html: boolean;
  all: boolean;
  max: number;
}

/** What an Email object is made from: a stored email (Email/get) or a blob parsed (Email/parse). */
export interface EmailSource {
  /** The properties the stored row or the envelope answer; undefined for the others. */
  row(p: string): { value: unknown } | undefined;
  structure: BodyPart | null;
  content: Buffer | undefined;
  /** The blob id of a part, by its part id. */
  blobOf(partId: string): string;
}

export function emailObject(src: EmailSource, props: Set<string>, bodyProps: Set<string>, options: ValueOptions): Args {
  const { content } = src;
  const parsed = content ? parseMessage(content) : undefined;
  const root = parsed?.structure ?? src.structure;
  const out: Args = {};
  const lists = root ? bodyLists(root) : undefined;
  const shapePart = (n: { part: BodyPart; partId: string }, deep: boolean) =>
    filterPart(bodyPart(content ?? Buffer.alloc(0), src.blobOf, n, deep), bodyProps);
  for (const p of props) {
    if (p.startsWith('header:')) {
      out[p] = parsed ? headerProperty(parsed.headers, p) : null;
      continue;
    }
    const row = src.row(p);
    if (row) {
      out[p] = row.value;
      continue;
    }
    switch (p) {
      case 'references':
        out.references = parsed ? msgIds(headerValues(parsed.headers, 'references').join(' ') || null) : null;
        break;
      case 'hasAttachment':
        out.hasAttachment = root ? hasAttachment(root) : false;
        break;
      case 'preview':
        out.preview = content && root ? preview(content, root) : '';
        break;
      case 'headers':
        out.headers = parsed?.headers.map((f) => ({ name: f.name, value: f.value })) ?? [];
        break;
      case 'bodyStructure':
        out.bodyStructure = root ? shapePart({ part: root, partId: root.type === 'multipart' ? '' : '1' }, true) : null;
        break;
      case 'textBody':
      case 'htmlBody':
      case 'attachments': {
        const key = p === 'textBody' ? 'text' : p === 'htmlBody' ? 'html' : 'attachments';
        out[p] = lists ? lists[key].map((n) => shapePart(n, false)) : [];
        break;
      }
      case 'bodyValues': {
        const values: Args = {};
        if (content && lists) {
          const wanted = options.all
            ? [...lists.text, ...lists.html, ...lists.attachments].filter((n) => n.part.type === 'text')
            : [...(options.text ? lists.text : []), ...(options.html ? lists.html : [])];
          for (const n of wanted)
            if (n.part.type === 'text') values[n.partId] = bodyValue(content, n.part, options.max);
        }
        out.bodyValues = values;
        break;
      }
      default:
        throw new MethodError('invalidArguments', `unknown property ${p}`);
    }
  }
  return out;
}

/** A property the stored row and envelope answer; undefined for the others. */
function rowProperty(m: MessageRecord, env: Envelope | null, p: string): { value: unknown } | undefined {
  switch (p) {
    case 'id':
      return { value: jmapId.email(m.emailId) };
    case 'blobId':
      return { value: jmapId.blob(m.emailId) };
    case 'threadId':
      return { value: jmapId.thread(m.threadId) };
    case 'mailboxIds':
      return { value: { [jmapId.mailbox(m.mailboxId)]: true } };
    case 'keywords':
      return { value: keywordsOf(m.flags) };
    case 'size':
      return { value: m.size };
    case 'receivedAt':
      return { value: utcDate(m.internalDate) };
    default:
      return envelopeProperty(env, p);
  }
}

/** A header convenience property (RFC 8621 §4.1.3) from the message's envelope; undefined for the others. */
export function envelopeProperty(env: Envelope | null, p: string): { value: unknown } | undefined {
  switch (p) {
    case 'messageId':
      return { value: msgIds(env?.messageId ?? null) };
    case 'inReplyTo':
      return { value: msgIds(env?.inReplyTo ?? null) };
    case 'sender':
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
    case 'replyTo':
      return { value: env ? addresses(env[p]) : null };
    case 'subject':
      return { value: env?.subject == null ? null : decodeWords(env.subject) };
    case 'sentAt':
      return { value: env?.date ? sentAt(env.date) : null };
    default:
      return undefined;
  }
}

function filterPart(part: Args, keep: Set<string>): Args {
  const out: Args = {};
  for (const [k, v] of Object.entries(part)) {
    if (k === 'subParts') out.subParts = (v as Args[]).map((s) => filterPart(s, keep));
    else if (keep.has(k)) out[k] = v;
  }
  return out;
}

/** RFC 8621 §4.1.2.3 EmailAddress list; groups flattened. */
function addresses(list: EnvelopeAddress[]): Array<{ name: string | null; email: string }> | null {
  const out = list
    .filter((a) => a.group === undefined)
    .map((a) => ({
      name: a.name ? decodeWords(a.name) : null,
      email: a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? ''),
    }));
  return out.length ? out : null;
}

/** UTCDate (RFC 8620 §1.4): no fractions, "Z". */
export function utcDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 8621 §4.1.2.4 asDate: the Date field as a Date with its own offset. */
function sentAt(raw: string): string | null {
  // A Date field is about 40 characters; a longer one is not read (and no pattern runs over it).
  const value = raw.trim();
  if (value.length > 200) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  // The zone is the first +hhmm/-hhmm after the time; a comment may follow.
  const m = /\d:\d\d(?::\d\d)?\s+([+-])(\d{2})(\d{2})(?![0-9])/.exec(value);
  const sign = m?.[1] === '-' ? -1 : 1;
  const offsetMin = m ? sign * (Number(m[2]) * 60 + Number(m[3])) : 0;
  const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 19);
  if (!m) return `${local}Z`;
  return `${local}${m[1]}${m[2]}:${m[3]}`;
}
