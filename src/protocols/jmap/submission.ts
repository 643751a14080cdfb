/**
 * EmailSubmission (RFC 8621 §7), with Identity (identity.ts): a submission, made with one of the
 * account's identities, sends a stored email through the same acceptance pipeline and outbound queue as port
 * 587 (services/acceptance/submit.ts), with the same sender-ownership rules and DKIM signing, and
 * then runs the implicit Email/set the client asked for (onSuccessUpdateEmail, onSuccessDestroyEmail).
 * A submission whose envelope asks to wait (RFC 4865 HOLDFOR / HOLDUNTIL, at most 30 days) is
 * checked at once and kept "pending" for services/acceptance/scheduled.ts to send at its time; until
 * then setting its undoStatus to "canceled" stops it ("undo send", "send later").
 */
import type { Logger } from '../../lib/log.js';
import { isMailError } from '../../lib/errors.js';
import { headerValues } from '../../mail/mime/headers.js';
import { headerAddresses, parseMessage } from '../../mail/mime/structure.js';
import { deliveryStatusOf, MAX_SUBMIT_RECIPIENTS, type Submitter } from '../../services/acceptance/submit.js';
import type { SubmissionRecord, Store } from '../../store/index.js';
import { getIds, idNumber, invalid, jmapId, maxChangesArg, noChanges, stringArg } from './args.js';
import type { BlobDeps } from './blobs.js';
import { isObject, LIMITS, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { emailSet } from './email-set.js';
import { utcDate } from './email-get.js';
import { nullIfEmpty } from './mailbox.js';
import { findIdentity, identityMethods, SUBMISSION } from './identity.js';
import type { Identities } from '../../services/identities/index.js';

export { SUBMISSION };

export interface SubmissionDeps extends BlobDeps {
  submitter: Submitter;
  identities: Identities;
  submissions: Store['submissions'];
}

const submissionId = (id: number) => `s${id}`;

export function submissionMethods(deps: SubmissionDeps): Array<[string, MethodEntry]> {
  return [
    ...identityMethods(deps.identities),
    ['EmailSubmission/get', { capability: SUBMISSION, run: (args, ctx) => submissionGet(deps, args, ctx) }],
    ['EmailSubmission/changes', { capability: SUBMISSION, run: (args, ctx) => submissionChanges(deps, args, ctx) }],
    ['EmailSubmission/query', { capability: SUBMISSION, run: (args, ctx) => submissionQuery(deps, args, ctx) }],
    ['EmailSubmission/set', { capability: SUBMISSION, run: (args, ctx) => submissionSet(deps, args, ctx) }],
  ];
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
    // Being sent is still pending to the client (it cannot be canceled any more: cannotUnsend).
    undoStatus: s.undoStatus === 'sending' ? 'pending' : s.undoStatus,
    deliveryStatus:
      s.undoStatus === 'pending' || s.undoStatus === 'sending'
        ? null
        : Object.fromEntries(Object.entries(s.deliveryStatus).map(([k, v]) => [k, { ...v, displayed: 'unknown' }])),
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
    state: String(await deps.submissions.seq(ctx.accountId)),
    list: found.map(submissionObject),
    notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)),
  };
}

/** Submissions are made and changed (sent later, canceled), never removed: the change numbers say which. */
async function submissionChanges(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const max = maxChangesArg(args);
  const from = /^\d{1,15}$/.test(since) ? Number(since) : NaN;
  const current = await deps.submissions.seq(ctx.accountId);
  if (!(from <= current)) throw new MethodError('cannotCalculateChanges', 'not a state this server gave');
  const changed = await deps.submissions.changedSince(ctx.accountId, from);
  const shown = changed.slice(0, max);
  const newState = shown.length < changed.length ? shown.at(-1)!.seq : current;
  return {
    accountId: ctx.jmapAccountId,
    oldState: since,
    newState: String(newState),
    hasMoreChanges: newState < current,
    created: shown.filter((c) => c.created).map((c) => submissionId(c.id)),
    updated: shown.filter((c) => !c.created).map((c) => submissionId(c.id)),
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
        (filter.undoStatus === undefined || filter.undoStatus === s.undoStatus) &&
        (typeof filter.before !== 'string' || (s.sendAt as string) < filter.before) &&
        (typeof filter.after !== 'string' || (s.sendAt as string) >= filter.after),
    );
  }
  list.reverse(); // newest first
  return {
    accountId: ctx.jmapAccountId,
    queryState: String(await deps.submissions.seq(ctx.accountId)),
    canCalculateChanges: false,
    position: 0,
    ids: list.map((s) => s.id),
    total: list.length,
  };
}

async function submissionSet(deps: SubmissionDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = String(await deps.submissions.seq(ctx.accountId));
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
      created[cid] = { id: submissionId(s.id), undoStatus: s.undoStatus, sendAt: utcDate(s.sendAt) };
    } catch (err) {
      notCreated[cid] = submissionError(err, ctx.log);
    }
  const { updated, notUpdated } = await cancellations(deps, ctx, isObject(args.update) ? args.update : {});
  const out: Args = {
    accountId: ctx.jmapAccountId,
    oldState,
    newState: String(await deps.submissions.seq(ctx.accountId)),
    created: nullIfEmpty(created),
    notCreated: nullIfEmpty(notCreated),
    updated: nullIfEmpty(updated),
    notUpdated: nullIfEmpty(notUpdated),
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

/** RFC 8621 §7.3: the one change a submission takes, undoStatus to "canceled" while it is pending. */
async function cancellations(
  deps: SubmissionDeps,
  ctx: CallContext,
  update: Args,
): Promise<{ updated: Args; notUpdated: Args }> {
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries(update)) {
    const n = idNumber('s', id);
    if (!isObject(patch) || Object.keys(patch).length !== 1 || patch.undoStatus !== 'canceled')
      notUpdated[id] = {
        type: 'invalidProperties',
        description: 'only undoStatus "canceled" can be set',
        properties: ['undoStatus'],
      };
    else if (n !== undefined && (await deps.submissions.cancel(ctx.accountId, n))) updated[id] = null;
    else if (n !== undefined && (await deps.submissions.list(ctx.accountId, [n])).length)
      notUpdated[id] = { type: 'cannotUnsend', description: 'the email has been sent' };
    else notUpdated[id] = { type: 'notFound' };
  }
  return { updated, notUpdated };
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
  try {
    const result = await emailSet(deps, { accountId: ctx.jmapAccountId, update, destroy }, ctx);
    ctx.followUps = [...followUps, ['Email/set', result]];
  } catch (err) {
    // The mail went out: the submission stands, and only the implicit Email/set says it failed.
    ctx.log.error({ err }, 'the Email/set after a submission failed');
    ctx.followUps = [...followUps, ['error', { type: 'serverFail', description: 'the emails were not updated' }]];
  }
}

async function createOne(deps: SubmissionDeps, ctx: CallContext, props: unknown): Promise<SubmissionRecord> {
  if (!isObject(props) || typeof props.emailId !== 'string' || typeof props.identityId !== 'string')
    throw new MethodError('invalidProperties', 'a submission needs identityId and emailId');
  if (!(await findIdentity(deps.identities, ctx, props.identityId)))
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
  const base = { accountId: ctx.accountId, emailId: m.emailId, threadId: m.threadId, identityId: props.identityId };
  const sendAt = releaseTime(props.envelope);
  if (sendAt) {
    // RFC 4865: held until its time; checked now as port 587 would check it, sent by the scheduler.
    const checked = await deps.submitter.check({
      user: ctx.address,
      mailFrom: envelope.mailFrom,
      rcptTo: envelope.rcptTo,
      size: content.length,
    });
    if (checked.kind !== 'ok') throw refusal(checked, envelope.mailFrom);
    return deps.submissions.add(
      { ...base, envelope, sendAt, qid: '', deliveryStatus: {}, undoStatus: 'pending', clientIp: ctx.ip },
      content,
    );
  }
  const r = await deps.submitter.submit({
    user: ctx.address,
    content,
    mailFrom: envelope.mailFrom,
    rcptTo: envelope.rcptTo,
    client: { ip: ctx.ip },
    via: 'JMAP',
    log: ctx.log,
  });
  if (r.kind !== 'accepted') throw refusal(r, envelope.mailFrom);
  return deps.submissions.add({
    ...base,
    envelope,
    sendAt: new Date(),
    qid: r.qid,
    deliveryStatus: deliveryStatusOf(envelope.rcptTo, r.results),
    undoStatus: 'final',
    clientIp: ctx.ip,
  });
}

function refusal(
  r: { kind: 'forbiddenMailFrom' } | { kind: 'invalidRecipients'; recipients: string[] },
  mailFrom: string,
): MethodError {
  if (r.kind === 'forbiddenMailFrom')
    return new MethodError('forbiddenMailFrom', `${mailFrom} is not an address of yours`);
  return new MethodError('invalidRecipients', 'some recipients do not exist', { invalidRecipients: r.recipients });
}

/** The longest a submission may wait (RFC 4865 FUTURERELEASE; the session's maxDelayedSend): 30 days. */
export const MAX_DELAYED_SEND_SECONDS = 30 * 24 * 3600;

/** The release time the envelope asks for (HOLDFOR seconds or HOLDUNTIL date), if it is in the future. */
function releaseTime(envelope: unknown): Date | undefined {
  const params =
    isObject(envelope) && isObject(envelope.mailFrom) && isObject(envelope.mailFrom.parameters)
      ? envelope.mailFrom.parameters
      : {};
  const holdFor = params.HOLDFOR ?? params.holdfor;
  const holdUntil = params.HOLDUNTIL ?? params.holduntil;
  let at: number | undefined;
  if (typeof holdFor === 'string' && /^\d{1,9}$/.test(holdFor)) at = Date.now() + Number(holdFor) * 1000;
  else if (typeof holdUntil === 'string' && !Number.isNaN(Date.parse(holdUntil))) at = Date.parse(holdUntil);
  else if (holdFor !== undefined || holdUntil !== undefined)
    throw new MethodError('invalidProperties', 'HOLDFOR takes seconds, HOLDUNTIL a date', { properties: ['envelope'] });
  if (at === undefined || at <= Date.now()) return undefined;
  if (at > Date.now() + MAX_DELAYED_SEND_SECONDS * 1000)
    throw new MethodError('invalidProperties', `a submission waits at most ${MAX_DELAYED_SEND_SECONDS} seconds`, {
      properties: ['envelope'],
    });
  return new Date(at);
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
  // RFC 8621 §7: the Sender address, else the From address, else the identity's.
  const sender = ['sender', 'from'].map((k) => headerValues(head, k).flatMap(headerAddresses)[0]).find(Boolean);
  return { mailFrom: sender ?? address, rcptTo };
}

function submissionError(err: unknown, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'SENDER_NOT_OWNED')) return { type: 'forbiddenFrom', description: err.message };
  if (isMailError(err, 'MESSAGE_TOO_BIG')) return { type: 'tooLarge', description: err.message, maxSize: null };
  if (isMailError(err, 'LIMIT_REACHED'))
    return { type: 'tooManyRecipients', description: err.message, maxRecipients: MAX_SUBMIT_RECIPIENTS };
  if (isMailError(err, 'INVALID_INPUT')) return { type: 'noRecipients', description: err.message };
  if (isMailError(err)) return { type: 'forbiddenToSend', description: err.message };
  log.error({ err }, 'a JMAP object could not be changed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}
