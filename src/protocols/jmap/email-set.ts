/**
 * Email/set (RFC 8621 §4.6) and Email/import (§4.8). Keywords are the message's IMAP flags, a change
 * of mailboxIds is an IMAP MOVE (an email is in one mailbox: maxMailboxesPerEmail 1), destroy an
 * expunge, create a message composed from its properties (a draft) and appended — all through the
 * same mailbox operations IMAP uses, so IMAP IDLE, POP3 and the change log see them alike.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { MailError } from '../../lib/errors.js';
import { normalizeAddress } from '../../mail/address.js';
import type { MailboxRecord, MessageRecord } from '../../store/index.js';
import { idNumber, invalid, jmapId, setArgs } from './args.js';
import { readBlob, type BlobDeps } from './blobs.js';
import { isObject, LIMITS, MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { nullIfEmpty, setError, setResponse } from './mailbox.js';

const SYSTEM: Record<string, string> = {
  $seen: '\\Seen',
  $flagged: '\\Flagged',
  $answered: '\\Answered',
  $draft: '\\Draft',
};
/** Attachments one composed email may have. */
const MAX_ATTACHMENTS = 100;
/** RFC 8621 §4.1.1: a keyword is 1–255 of %x21–7E but ( ) { ] % * " \ */
const KEYWORD = /^[\x21-\x7e]{1,255}$/;
const KEYWORD_BAD = /[(){\]%*"\\]/;

export function emailSetMethods(deps: BlobDeps): Array<[string, MethodEntry]> {
  return [
    ['Email/set', { capability: MAIL, run: (args, ctx) => emailSet(deps, args, ctx) }],
    ['Email/import', { capability: MAIL, run: (args, ctx) => importEmails(deps, args, ctx) }],
  ];
}

/** JMAP keywords as IMAP flags; an IMAP-only flag the message has (\Deleted) is kept. */
function flagsOf(keywords: Record<string, unknown>, keep: string[] = []): string[] {
  const out: string[] = keep.filter((f) => f === '\\Deleted');
  for (const [k, v] of Object.entries(keywords)) {
    if (v !== true)
      throw new MethodError('invalidProperties', 'keyword values must be true', { properties: ['keywords'] });
    const lower = k.toLowerCase();
    if (!KEYWORD.test(k) || KEYWORD_BAD.test(k))
      throw new MethodError('invalidProperties', `${k.slice(0, 40)} is not a keyword`, { properties: ['keywords'] });
    out.push(SYSTEM[lower] ?? lower);
  }
  return out;
}

export async function emailSet(deps: BlobDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = await deps.views.state(ctx.accountId);
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the emails changed since that state');
  const { create, update, destroy } = setArgs(args);
  const boxes = await deps.mailboxes.list(ctx.accountId);
  const created: Args = {};
  const notCreated: Args = {};
  for (const [cid, props] of Object.entries(create))
    try {
      const m = await createOne(deps, ctx, boxes, props);
      ctx.createdIds.set(cid, jmapId.email(m.emailId));
      created[cid] = shortForm(m);
    } catch (err) {
      notCreated[cid] = setError(err, ctx.log);
    }
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries(update))
    try {
      await updateOne(deps, ctx, boxes, resolveId(ctx, id), patch);
      updated[id] = null;
    } catch (err) {
      notUpdated[id] = setError(err, ctx.log);
    }
  const destroyed: string[] = [];
  const notDestroyed: Args = {};
  for (const id of destroy as string[])
    try {
      const m = await emailById(deps, ctx, resolveId(ctx, id));
      await deps.mailboxes.expunge(ctx.accountId, m.mailboxId, [m.uid]);
      destroyed.push(id);
    } catch (err) {
      notDestroyed[id] = setError(err, ctx.log);
    }
  return setResponse(ctx, oldState, await deps.views.state(ctx.accountId), {
    created,
    updated,
    destroyed,
    notCreated,
    notUpdated,
    notDestroyed,
  });
}

function shortForm(m: MessageRecord): Args {
  return {
    id: jmapId.email(m.emailId),
    blobId: jmapId.blob(m.emailId),
    threadId: jmapId.thread(m.threadId),
    size: m.size,
  };
}

function resolveId(ctx: CallContext, id: string): string {
  return id.startsWith('#') ? (ctx.createdIds.get(id.slice(1)) ?? id) : id;
}

async function emailById(deps: BlobDeps, ctx: CallContext, id: string): Promise<MessageRecord> {
  const n = idNumber('e', id);
  const [m] =
    n === undefined ? [] : await deps.views.byIds(ctx.accountId, [n], { envelope: 'all', bodyStructure: true });
  if (!m) throw new MethodError('notFound', `no email ${id.slice(0, 40)}`);
  return m;
}

/** An update: keywords (whole or by "keywords/…" paths), mailboxIds (whole or by "mailboxIds/…" paths). */
async function updateOne(
  deps: BlobDeps,
  ctx: CallContext,
  boxes: MailboxRecord[],
  id: string,
  patch: unknown,
): Promise<void> {
  if (!isObject(patch)) throw invalid('a patch must be an object');
  const m = await emailById(deps, ctx, id);
  let keywords: Record<string, unknown> | undefined;
  let mailboxIds: Record<string, unknown> | undefined;
  const current = () =>
    Object.fromEntries(
      m.flags
        .filter((f) => f !== '\\Deleted' && f !== '\\Recent')
        .map((f) => [f.startsWith('\\') ? `$${f.slice(1).toLowerCase()}` : f.toLowerCase(), true]),
    );
  for (const [path, value] of Object.entries(patch)) {
    if (path === 'keywords') {
      if (!isObject(value)) throw new MethodError('invalidPatch', 'keywords must be an object');
      keywords = { ...value };
    } else if (path.startsWith('keywords/')) {
      keywords ??= current();
      const k = unescapePointer(path.slice(9)).toLowerCase();
      if (value === null) delete keywords[k];
      else keywords[k] = value;
    } else if (path === 'mailboxIds') {
      if (!isObject(value)) throw new MethodError('invalidPatch', 'mailboxIds must be an object');
      mailboxIds = { ...value };
    } else if (path.startsWith('mailboxIds/')) {
      mailboxIds ??= { [jmapId.mailbox(m.mailboxId)]: true };
      const b = resolveMailbox(ctx, unescapePointer(path.slice(11)));
      if (value === null) delete mailboxIds[b];
      else mailboxIds[b] = value;
    } else throw new MethodError('invalidProperties', `${path.slice(0, 60)} cannot be changed`, { properties: [path] });
  }
  const target = mailboxIds ? oneMailbox(ctx, boxes, mailboxIds) : undefined;
  if (keywords) {
    const flags = flagsOf(keywords, m.flags);
    await deps.mailboxes.setFlags(ctx.accountId, m.mailboxId, [m.uid], 'set', flags);
  }
  if (target && target.id !== m.mailboxId) {
    const source = boxes.find((b) => b.id === m.mailboxId);
    if (!source) throw new MethodError('notFound', 'the email is no longer there');
    await deps.mailboxes.copy(ctx.accountId, source, [m.uid], target.name, true);
  }
}

function resolveMailbox(ctx: CallContext, id: string): string {
  return id.startsWith('#') ? (ctx.createdIds.get(id.slice(1)) ?? id) : id;
}

/** The one mailbox a mailboxIds value names (maxMailboxesPerEmail is 1). */
function oneMailbox(ctx: CallContext, boxes: MailboxRecord[], mailboxIds: Record<string, unknown>): MailboxRecord {
  const ids = Object.entries(mailboxIds)
    .filter(([, v]) => v === true)
    .map(([k]) => resolveMailbox(ctx, k));
  if (ids.length !== 1)
    throw new MethodError(
      ids.length > 1 ? 'tooManyMailboxes' : 'invalidProperties',
      'an email is in exactly one mailbox here',
      {
        properties: ['mailboxIds'],
      },
    );
  const n = idNumber('m', ids[0]!);
  const box = boxes.find((b) => b.id === n);
  if (!box)
    throw new MethodError('invalidProperties', `no mailbox ${ids[0]!.slice(0, 40)}`, { properties: ['mailboxIds'] });
  return box;
}

async function appendTo(
  deps: BlobDeps,
  ctx: CallContext,
  box: MailboxRecord,
  content: Buffer,
  flags: string[],
  receivedAt: unknown,
): Promise<MessageRecord> {
  const date = receivedAt === undefined || receivedAt === null ? undefined : new Date(String(receivedAt));
  if (date && Number.isNaN(date.getTime()))
    throw new MethodError('invalidProperties', 'receivedAt must be a UTCDate', { properties: ['receivedAt'] });
  const { uid } = await deps.mailboxes.append(ctx.accountId, box.name, content, flags, date);
  const [m] = await deps.mailboxes.messagesByUid(box.id, [uid]);
  if (!m) throw new MailError('TEMPORARY', 'the stored email vanished');
  return m;
}

/** Email/import (RFC 8621 §4.8): uploaded messages (or emails' blobs) stored with mailbox, keywords and date. */
async function importEmails(deps: BlobDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = await deps.views.state(ctx.accountId);
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the emails changed since that state');
  const emails = objectOf(args.emails, 'emails');
  if (Object.keys(emails).length > LIMITS.maxObjectsInSet)
    throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInSet} emails in one import`);
  const boxes = await deps.mailboxes.list(ctx.accountId);
  const created: Args = {};
  const notCreated: Args = {};
  for (const [cid, e] of Object.entries(emails))
    try {
      if (!isObject(e) || typeof e.blobId !== 'string' || !isObject(e.mailboxIds))
        throw new MethodError('invalidProperties', 'an EmailImport needs blobId and mailboxIds');
      const blob = await readBlob(deps, ctx.accountId, e.blobId);
      if (!blob) throw new MethodError('blobNotFound', `no blob ${e.blobId.slice(0, 80)}`, { notFound: [e.blobId] });
      const box = oneMailbox(ctx, boxes, e.mailboxIds);
      const flags = flagsOf(isObject(e.keywords) ? e.keywords : {});
      const m = await appendTo(deps, ctx, box, blob.data, flags, e.receivedAt);
      ctx.createdIds.set(cid, jmapId.email(m.emailId));
      created[cid] = shortForm(m);
    } catch (err) {
      notCreated[cid] = setError(err, ctx.log);
    }
  return {
    accountId: ctx.jmapAccountId,
    oldState,
    newState: await deps.views.state(ctx.accountId),
    created: nullIfEmpty(created),
    notCreated: nullIfEmpty(notCreated),
  };
}

/** Email/set create: a message composed from the properties (RFC 8621 §4.6), appended to its mailbox. */
async function createOne(
  deps: BlobDeps,
  ctx: CallContext,
  boxes: MailboxRecord[],
  props: unknown,
): Promise<MessageRecord> {
  if (!isObject(props)) throw invalid('an email must be an object');
  if (!isObject(props.mailboxIds))
    throw new MethodError('invalidProperties', 'mailboxIds is required', { properties: ['mailboxIds'] });
  const box = oneMailbox(ctx, boxes, props.mailboxIds);
  const flags = flagsOf(isObject(props.keywords) ? props.keywords : {});
  const content = await compose(deps, ctx, props);
  return appendTo(deps, ctx, box, content, flags, props.receivedAt);
}

async function compose(deps: BlobDeps, ctx: CallContext, p: Args): Promise<Buffer> {
  const values = isObject(p.bodyValues) ? p.bodyValues : {};
  const bodyText = (list: unknown): string | undefined => {
    if (!Array.isArray(list) || list.length === 0) return undefined;
    const part = list[0] as Args;
    const value = isObject(part) && typeof part.partId === 'string' ? values[part.partId] : undefined;
    if (!isObject(value) || typeof value.value !== 'string')
      throw new MethodError('invalidProperties', 'a body part must name a bodyValues entry by partId', {
        properties: ['bodyValues'],
      });
    return value.value;
  };
  const mail: Mail.Options = {
    ...addressOption('from', p.from),
    ...addressOption('to', p.to),
    ...addressOption('cc', p.cc),
    ...addressOption('bcc', p.bcc),
    ...addressOption('replyTo', p.replyTo),
    ...addressOption('sender', p.sender),
    subject: typeof p.subject === 'string' ? p.subject : '',
    date: sentAtOf(p.sentAt),
    ...(msgIdList(p, 'messageId').length ? { messageId: `<${msgIdList(p, 'messageId')[0]}>` } : {}),
    ...(msgIdList(p, 'inReplyTo').length
      ? {
          inReplyTo: msgIdList(p, 'inReplyTo')
            .map((i) => `<${i}>`)
            .join(' '),
        }
      : {}),
    ...(msgIdList(p, 'references').length ? { references: msgIdList(p, 'references').map((i) => `<${i}>`) } : {}),
    text: bodyText(p.textBody),
    html: bodyText(p.htmlBody),
    attachments: await attachments(deps, ctx, p.attachments),
  };
  if (mail.text === undefined && mail.html === undefined) mail.text = '';
  const node = new MailComposer(mail).compile();
  node.keepBcc = true; // a draft keeps its Bcc; EmailSubmission removes it before sending
  return node.build();
}

/** A message-id list property: ids without angle brackets, white space or controls (a header line each joins). */
function msgIdList(p: Args, key: string): string[] {
  const v = p[key];
  if (v === undefined || v === null) return [];
  if (
    !Array.isArray(v) ||
    v.length > 100 ||
    !v.every((i) => typeof i === 'string' && /^[\x21-\x3b\x3d\x3f-\x7e]{1,250}$/.test(i))
  )
    throw new MethodError('invalidProperties', `${key} must be message ids without < >`, { properties: [key] });
  return v as string[];
}

function sentAtOf(v: unknown): Date {
  if (v === undefined || v === null) return new Date();
  const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime()))
    throw new MethodError('invalidProperties', 'sentAt must be a date', { properties: ['sentAt'] });
  return d;
}

function addressOption(key: string, value: unknown): Record<string, Mail.Address[]> {
  if (value === undefined || value === null) return {};
  // Addresses a header may carry: valid mailboxes, names without line breaks or controls.
  const valid = (a: unknown) =>
    isObject(a) &&
    typeof a.email === 'string' &&
    normalizeAddress(a.email).ok &&
    (a.name === undefined || a.name === null || (typeof a.name === 'string' && !/[\x00-\x1f\x7f]/.test(a.name)));
  if (!Array.isArray(value) || value.length > 1000 || !value.every(valid))
    throw new MethodError('invalidProperties', `${key} must be EmailAddress objects with valid addresses`, {
      properties: [key],
    });
  return {
    [key]: (value as Args[]).map((a) => ({
      name: typeof a.name === 'string' ? a.name : '',
      address: a.email as string,
    })),
  };
}

async function attachments(deps: BlobDeps, ctx: CallContext, list: unknown): Promise<Mail.Attachment[]> {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list))
    throw new MethodError('invalidProperties', 'attachments must be a list', { properties: ['attachments'] });
  if (list.length > MAX_ATTACHMENTS)
    throw new MethodError('invalidProperties', `at most ${MAX_ATTACHMENTS} attachments`, {
      properties: ['attachments'],
    });
  const out: Mail.Attachment[] = [];
  let total = 0;
  for (const a of list as unknown[]) {
    if (!isObject(a) || typeof a.blobId !== 'string')
      throw new MethodError('invalidProperties', 'an attachment needs a blobId', { properties: ['attachments'] });
    const blob = await readBlob(deps, ctx.accountId, a.blobId);
    if (!blob) throw new MethodError('blobNotFound', `no blob ${a.blobId.slice(0, 80)}`, { notFound: [a.blobId] });
    // RFC 8621 §1.3.1 maxSizeAttachmentsPerEmail, counted before anything is composed.
    total += blob.data.length;
    if (total > LIMITS.maxSizeUpload)
      throw new MethodError('tooLarge', `attachments of more than ${LIMITS.maxSizeUpload} bytes`, {
        maxSize: LIMITS.maxSizeUpload,
      });
    out.push({
      content: blob.data,
      contentType: typeof a.type === 'string' ? a.type : blob.type,
      ...(typeof a.name === 'string' ? { filename: a.name } : {}),
      ...(typeof a.cid === 'string' ? { cid: a.cid } : {}),
      contentDisposition: a.disposition === 'inline' ? 'inline' : 'attachment',
    });
  }
  return out;
}

/** RFC 6901 §4: "~1" is "/" and "~0" is "~" in a patch path's segment. */
function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function objectOf(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw invalid(`${name} must be an object`);
  return v;
}
