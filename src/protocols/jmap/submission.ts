/**
 * Identity and EmailSubmission (RFC 8621 §6, §7): the account's address is its identity; a
 * submission sends a stored email through the same acceptance pipeline and outbound queue as port
 * 587 (services/acceptance/submit.ts), with the same sender-ownership rules and DKIM signing, and
 * then runs the implicit Email/set the client asked for (onSuccessUpdateEmail, onSuccessDestroyEmail).
 * Mail goes out at once: `maxDelayedSend` is 0 and every submission's undoStatus is "final".
 */
import { isMailError } from '../../lib/errors.js';
import { headerValues } from '../../mail/mime/headers.js';
import { headerAddresses, parseMessage } from '../../mail/mime/structure.js';
import type { Submitter } from '../../services/acceptance/submit.js';
import type { SubmissionRecord, Store } from '../../store/index.js';
import { getIds, idNumber, invalid, jmapId, maxChangesArg, stringArg } from './args.js';
import type { BlobDeps } from './blobs.js';
import { isObject, LIMITS, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { emailSet } from './email-set.js';
import { utcDate } from './email-get.js';
import { nullIfEmpty } from './mailbox.js';

export const SUBMISSION = 'urn:ietf:params:jmap:submission';

export interface SubmissionDeps extends BlobDeps {
  submitter: Submitter;
  submissions: Store['submissions'];
}

const identityId = (accountId: number) => `i${accountId}`;
const submissionId = (id: number) => `s${id}`;

export function submissionMethods(deps: SubmissionDeps): Array<[string, MethodEntry]> {
  return [
    ['Identity/get', { capability: SUBMISSION, run: (args, ctx) => identityGet(args, ctx) }],
    [
      'Identity/changes',
      {
        capability: SUBMISSION,
        run: (args, ctx) =>
          Promise.resolve(noChanges(ctx, stringArg(args, 'sinceState'), '0', 'identities are fixed: run Identity/get')),
      },
    ],
    ['EmailSubmission/get', { capability: SUBMISSION, run: (args, ctx) => submissionGet(deps, args, ctx) }],
    ['EmailSubmission/changes', { capability: SUBMISSION, run: (args, ctx) => submissionChanges(deps, args, ctx) }],
    ['EmailSubmission/query', { capability: SUBMISSION, run: (args, ctx) => submissionQuery(deps, args, ctx) }],
    ['EmailSubmission/set', { capability: SUBMISSION, run: (args, ctx) => submissionSet(deps, args, ctx) }],
  ];
}

function identityGet(args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const me = {
    id: identityId(ctx.accountId),
    name: '',
    email: ctx.address,
    replyTo: null,
    bcc: null,
    textSignature: '',
    htmlSignature: '',
    mayDelete: false,
  };
  const found = ids === null || ids.includes(me.id);
  return Promise.resolve({
    accountId: ctx.jmapAccountId,
    state: '0',
    list: found ? [me] : [],
    notFound: ids === null ? [] : ids.filter((i) => i !== me.id),
  });
}

function noChanges(ctx: CallContext, since: string, state: string, why: string): Args {
  if (since !== state) throw new MethodError('cannotCalculateChanges', why);
  return {
    accountId: ctx.jmapAccountId,
    oldState: since,
    newState: state,
    hasMoreChanges: false,
    created: [],
    updated: [],
    destroyed: [],
  };
}

function submissionObject(s: SubmissionRecord): Args {
  return {
    id: submissionId(s.id),
    identityId: s.identityId,
    emailId: jmapId.email(s.emailId),
    threadId: jmapId.thread(s.threadId),
    envelope: {
      mailFrom: { email: s.envelope.mailFrom, parameters: null },
      rcptTo: s.envelope.rcptTo.map((email) => ({ email, parameters: null })),
    },
    sendAt: utcDate(s.sendAt),
    undoStatus: 'final',
    deliveryStatus: Object.fromEntries(
      Object.entries(s.deliveryStatus).map(([k, v]) => [k, { ...v, displayed: 'unknown' }]),
    ),
    dsnBlobIds: [],
    mdnBlobIds: [],
  };
}

async function submissionGet(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const numbers = ids?.map((i) => idNumber('s', i)).filter((n): n is number => n !== undefined);
  const found = await deps.submissions.list(ctx.accountId, numbers);
  const byId = new Set(found.map((s) => submissionId(s.id)));
  return {
    accountId: ctx.jmapAccountId,
    state: String(await deps.submissions.last(ctx.accountId)),
    list: found.map(submissionObject),
    notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)),
  };
}

/** Submissions are only ever added (sent at once, never changed or removed): the changes are those after the state. */
async function submissionChanges(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const max = maxChangesArg(args);
  const from = /^\d{1,15}$/.test(since) ? Number(since) : NaN;
  const last = await deps.submissions.last(ctx.accountId);
  if (!(from <= last)) throw new MethodError('cannotCalculateChanges', 'not a state this server gave');
  const after = (await deps.submissions.list(ctx.accountId)).filter((s) => s.id > from).slice(0, max);
  const newState = after.length ? after.at(-1)!.id : from;
  return {
    accountId: ctx.jmapAccountId,
    oldState: since,
    newState: String(newState),
    hasMoreChanges: newState < last,
    created: after.map((s) => submissionId(s.id)),
    updated: [],
    destroyed: [],
  };
}

async function submissionQuery(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterCondition');
  let list = (await deps.submissions.list(ctx.accountId)).map(submissionObject);
  if (filter) {
    const has = (key: string, value: unknown) =>
      Array.isArray(filter[key]) && (filter[key] as unknown[]).includes(value);
    list = list.filter(
      (s) =>
        (filter.identityIds === undefined || has('identityIds', s.identityId)) &&
        (filter.emailIds === undefined || has('emailIds', s.emailId)) &&
        (filter.threadIds === undefined || has('threadIds', s.threadId)) &&
        (filter.undoStatus === undefined || filter.undoStatus === 'final') &&
        (typeof filter.before !== 'string' || (s.sendAt as string) < filter.before) &&
        (typeof filter.after !== 'string' || (s.sendAt as string) >= filter.after),
    );
  }
  list.reverse(); // newest first
  return {
    accountId: ctx.jmapAccountId,
    queryState: String(await deps.submissions.last(ctx.accountId)),
    canCalculateChanges: false,
    position: 0,
    ids: list.map((s) => s.id),
    total: list.length,
  };
}

async function submissionSet(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = String(await deps.submissions.last(ctx.accountId));
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the submissions changed since that state');
  const create = isObject(args.create) ? args.create : {};
  if (Object.keys(create).length > LIMITS.maxObjectsInSet)
    throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInSet} objects in one /set`);
  const created: Args = {};
  const notCreated: Args = {};
  const sent = new Map<string, SubmissionRecord>();
  for (const [cid, props] of Object.entries(create))
    try {
      const s = await createOne(deps, ctx, props);
      sent.set(`#${cid}`, s);
      sent.set(submissionId(s.id), s);
      created[cid] = { id: submissionId(s.id), undoStatus: 'final', sendAt: utcDate(s.sendAt) };
    } catch (err) {
      notCreated[cid] = submissionError(err);
    }
  const refused = (ids: unknown) =>
    Array.isArray(ids) || isObject(ids)
      ? Object.fromEntries(Object.keys(isObject(ids) ? ids : {}).map((k) => [k, { type: 'forbidden' }]))
      : {};
  const out: Args = {
    accountId: ctx.jmapAccountId,
    oldState,
    newState: String(await deps.submissions.last(ctx.accountId)),
    created: nullIfEmpty(created),
    notCreated: nullIfEmpty(notCreated),
    updated: null,
    notUpdated: nullIfEmpty(refused(args.update)),
    destroyed: null,
    notDestroyed:
      Array.isArray(args.destroy) && args.destroy.length
        ? Object.fromEntries(
            (args.destroy as string[]).map((d) => [
              d,
              { type: 'forbidden', description: 'sent mail cannot be unsent' },
            ]),
          )
        : null,
  };
  await implicitEmailSet(deps, args, ctx, sent);
  return out;
}

/** RFC 8621 §7.5: after the submissions, one Email/set with their emails updated or destroyed as asked. */
async function implicitEmailSet(
  deps: SubmissionDeps,
  args: Args,
  ctx: CallContext,
  sent: Map<string, SubmissionRecord>,
): Promise<void> {
  const update: Args = {};
  const destroy: string[] = [];
  if (isObject(args.onSuccessUpdateEmail))
    for (const [ref, patch] of Object.entries(args.onSuccessUpdateEmail)) {
      const s = sent.get(ref);
      if (s) update[jmapId.email(s.emailId)] = patch;
    }
  if (Array.isArray(args.onSuccessDestroyEmail))
    for (const ref of args.onSuccessDestroyEmail) {
      const s = typeof ref === 'string' ? sent.get(ref) : undefined;
      if (s) destroy.push(jmapId.email(s.emailId));
    }
  if (Object.keys(update).length === 0 && destroy.length === 0) return;
  const followUps = ctx.followUps;
  const result = await emailSet(deps, { accountId: ctx.jmapAccountId, update, destroy }, ctx);
  ctx.followUps = [...followUps, ['Email/set', result]];
}

async function createOne(deps: SubmissionDeps, ctx: CallContext, props: unknown): Promise<SubmissionRecord> {
  if (!isObject(props) || typeof props.emailId !== 'string' || typeof props.identityId !== 'string')
    throw new MethodError('invalidProperties', 'a submission needs identityId and emailId');
  if (props.identityId !== identityId(ctx.accountId))
    throw new MethodError('invalidProperties', `no identity ${props.identityId.slice(0, 40)}`, {
      properties: ['identityId'],
    });
  const emailRef = props.emailId.startsWith('#') ? (ctx.createdIds.get(props.emailId.slice(1)) ?? '') : props.emailId;
  const n = idNumber('e', emailRef);
  const [m] =
    n === undefined ? [] : await deps.views.byIds(ctx.accountId, [n], { envelope: 'all', bodyStructure: true });
  if (!m)
    throw new MethodError('invalidProperties', `no email ${props.emailId.slice(0, 40)}`, { properties: ['emailId'] });
  const content = await deps.mailboxes.content(m);
  const envelope = envelopeOf(props.envelope, content, ctx.address);
  const r = await deps.submitter.submit({
    user: ctx.address,
    content,
    mailFrom: envelope.mailFrom,
    rcptTo: envelope.rcptTo,
    client: { ip: ctx.ip },
    via: 'JMAP',
    log: ctx.log,
  });
  if (r.kind === 'forbiddenMailFrom')
    throw new MethodError('forbiddenMailFrom', `${envelope.mailFrom} is not an address of yours`);
  if (r.kind === 'invalidRecipients')
    throw new MethodError('invalidRecipients', 'some recipients do not exist', { invalidRecipients: r.recipients });
  const status: SubmissionRecord['deliveryStatus'] = {};
  const byAddress = new Map(r.results.map((x) => [x.address.toLowerCase(), x]));
  for (const to of envelope.rcptTo) {
    const local = byAddress.get(to.toLowerCase());
    status[to] = !local
      ? { smtpReply: '250 2.0.0 queued for delivery', delivered: 'queued' }
      : local.status === 'delivered'
        ? { smtpReply: '250 2.0.0 delivered', delivered: 'yes' }
        : { smtpReply: `550 5.0.0 ${local.message}`, delivered: 'no' };
  }
  return deps.submissions.add({
    accountId: ctx.accountId,
    emailId: m.emailId,
    threadId: m.threadId,
    identityId: props.identityId,
    envelope,
    sendAt: new Date(),
    qid: r.qid,
    deliveryStatus: status,
  });
}

/** The envelope given, or RFC 8621 §7's default: the identity's address, and every To, Cc and Bcc address. */
function envelopeOf(given: unknown, content: Buffer, address: string): { mailFrom: string; rcptTo: string[] } {
  if (given !== undefined && given !== null) {
    if (
      !isObject(given) ||
      !isObject(given.mailFrom) ||
      typeof given.mailFrom.email !== 'string' ||
      !Array.isArray(given.rcptTo)
    )
      throw new MethodError('invalidProperties', 'envelope needs mailFrom and rcptTo', { properties: ['envelope'] });
    const rcptTo = (given.rcptTo as unknown[]).map((r) => (isObject(r) && typeof r.email === 'string' ? r.email : ''));
    if (rcptTo.some((r) => r === ''))
      throw new MethodError('invalidProperties', 'each rcptTo needs an email', { properties: ['envelope'] });
    return { mailFrom: given.mailFrom.email, rcptTo };
  }
  const head = parseMessage(content).headers;
  const rcptTo = [...new Set(['to', 'cc', 'bcc'].flatMap((k) => headerValues(head, k).flatMap(headerAddresses)))];
  if (rcptTo.length === 0) throw new MethodError('noRecipients', 'the email has no To, Cc or Bcc address');
  return { mailFrom: address, rcptTo };
}

function submissionError(err: unknown): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'SENDER_NOT_OWNED')) return { type: 'forbiddenFrom', description: err.message };
  if (isMailError(err, 'MESSAGE_TOO_BIG')) return { type: 'tooLarge', description: err.message };
  if (isMailError(err, 'LIMIT_REACHED')) return { type: 'tooManyRecipients', description: err.message };
  if (isMailError(err, 'INVALID_INPUT')) return { type: 'noRecipients', description: err.message };
  if (isMailError(err)) return { type: 'forbiddenToSend', description: err.message };
  throw err;
}
