/**
 * Identity get/changes/set (RFC 8621 §6) on services/identities: the account's own address (which
 * cannot be removed) and the other addresses it owns, with names, Reply-To, Bcc and signatures.
 * `email` is set when an identity is made and never changed; an address the account may not send
 * as is refused with forbiddenFrom.
 */
import type { Logger } from '../../lib/log.js';
import { isMailError } from '../../lib/errors.js';
import type { Identities, IdentityFields } from '../../services/identities/index.js';
import type { IdentityRecord } from '../../store/index.js';
import { getIds, getProperties, getResponse, idNumber, maxChangesArg, pick, setArgs, stringArg } from './args.js';
import { isObject, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { setResponse } from './mailbox.js';

export const SUBMISSION = 'urn:ietf:params:jmap:submission';
const PROPERTIES = ['id', 'name', 'email', 'replyTo', 'bcc', 'textSignature', 'htmlSignature', 'mayDelete'];
const SETTABLE = new Set(['name', 'replyTo', 'bcc', 'textSignature', 'htmlSignature']);

export const identityId = (id: number) => `i${id}`;

export function identityMethods(identities: Identities): Array<[string, MethodEntry]> {
  return [
    ['Identity/get', { capability: SUBMISSION, run: (args, ctx) => get(identities, args, ctx) }],
    ['Identity/changes', { capability: SUBMISSION, run: (args, ctx) => changes(identities, args, ctx) }],
    ['Identity/set', { capability: SUBMISSION, run: (args, ctx) => set(identities, args, ctx) }],
  ];
}

/** The account's identity with that JMAP id, or undefined. */
export async function findIdentity(
  identities: Identities,
  ctx: CallContext,
  id: string,
): Promise<IdentityRecord | undefined> {
  const n = idNumber('i', id);
  return n === undefined ? undefined : (await identities.list(ctx.accountId, ctx.address)).find((i) => i.id === n);
}

function shape(i: IdentityRecord): Args {
  return {
    id: identityId(i.id),
    name: i.name,
    email: i.email,
    replyTo: i.replyTo,
    bcc: i.bcc,
    textSignature: i.textSignature,
    htmlSignature: i.htmlSignature,
    mayDelete: !i.isDefault,
  };
}

async function get(identities: Identities, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const props = getProperties(args, PROPERTIES, PROPERTIES);
  const all = await identities.list(ctx.accountId, ctx.address);
  const state = String(await identities.seq(ctx.accountId));
  return {
    accountId: ctx.jmapAccountId,
    state,
    ...getResponse(
      ids,
      all,
      (i) => identityId(i.id),
      (i) => pick(shape(i), props),
    ),
  };
}

async function changes(identities: Identities, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const max = maxChangesArg(args);
  const from = /^\d{1,15}$/.test(since) ? Number(since) : NaN;
  await identities.list(ctx.accountId, ctx.address); // the own identity exists before states are read
  const current = await identities.seq(ctx.accountId);
  if (!Number.isSafeInteger(from) || from > current)
    throw new MethodError('cannotCalculateChanges', 'unknown state: run Identity/get');
  const all = await identities.changedSince(ctx.accountId, from);
  const changed = all.slice(0, max);
  const more = all.length > max;
  const ids = (kind: string) => changed.filter((c) => c.change === kind).map((c) => identityId(c.id));
  return {
    accountId: ctx.jmapAccountId,
    oldState: since,
    // Cut after the last change given: the next call goes on from there.
    newState: more ? String(changed.at(-1)!.seq) : String(current),
    hasMoreChanges: more,
    created: ids('created'),
    updated: ids('updated'),
    destroyed: ids('destroyed'),
  };
}

async function set(identities: Identities, args: Args, ctx: CallContext): Promise<Args> {
  await identities.list(ctx.accountId, ctx.address);
  const oldState = String(await identities.seq(ctx.accountId));
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the identities changed since that state');
  const { create, update, destroy } = setArgs(args);
  const out = { created: {} as Args, notCreated: {} as Args, updated: {} as Args, notUpdated: {} as Args };
  const destroyed: string[] = [];
  const notDestroyed: Args = {};
  for (const [cid, props] of Object.entries(create))
    try {
      if (!isObject(props)) throw new MethodError('invalidProperties', 'an identity must be an object');
      const unknown = Object.keys(props).find((k) => k !== 'email' && !SETTABLE.has(k));
      if (unknown) throw badProperty(unknown, `${unknown.slice(0, 40)} is not set by a client`);
      if (typeof props.email !== 'string') throw badProperty('email', 'an identity needs an email address');
      const made = await identities.create(ctx.accountId, ctx.address, { email: props.email, ...fields(props) });
      ctx.createdIds.set(cid, identityId(made.id));
      out.created[cid] = { id: identityId(made.id), mayDelete: true, ...pick(shape(made), new Set(SETTABLE)) };
    } catch (err) {
      out.notCreated[cid] = setError(err, ctx.log);
    }
  for (const [id, patch] of Object.entries(update))
    try {
      if (!isObject(patch)) throw new MethodError('invalidPatch', 'a patch must be an object');
      const fixed = Object.keys(patch).find((k) => !SETTABLE.has(k));
      if (fixed) throw badProperty(fixed, `${fixed.slice(0, 40)} cannot be changed`);
      const found = await findIdentity(identities, ctx, id);
      if (!found) throw new MethodError('notFound', 'no such identity');
      await identities.update(ctx.accountId, found.id, fields(patch));
      out.updated[id] = null;
    } catch (err) {
      out.notUpdated[id] = setError(err, ctx.log);
    }
  for (const id of destroy)
    try {
      const n = idNumber('i', id);
      if (n === undefined) throw new MethodError('notFound', 'no such identity');
      await identities.destroy(ctx.accountId, ctx.address, n);
      destroyed.push(id);
    } catch (err) {
      notDestroyed[id] = setError(err, ctx.log);
    }
  return setResponse(ctx, oldState, String(await identities.seq(ctx.accountId)), {
    ...out,
    destroyed,
    notDestroyed,
  });
}

const badProperty = (name: string, description: string) =>
  new MethodError('invalidProperties', description, { properties: [name] });

/** The settable fields of a create or a patch, typed (each wrong one refused by name). */
function fields(props: Record<string, unknown>): Partial<IdentityFields> {
  const out: Partial<IdentityFields> = {};
  for (const key of ['name', 'textSignature', 'htmlSignature'] as const) {
    const v = props[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw badProperty(key, `${key} must be a string`);
    out[key] = v;
  }
  for (const key of ['replyTo', 'bcc'] as const) {
    const v = props[key];
    if (v === undefined) continue;
    if (v === null) {
      out[key] = null;
      continue;
    }
    if (
      !Array.isArray(v) ||
      !v.every(
        (a) =>
          isObject(a) &&
          typeof a.email === 'string' &&
          (a.name === undefined || a.name === null || typeof a.name === 'string'),
      )
    )
      throw badProperty(key, `${key} must be null or a list of { name, email }`);
    out[key] = (v as Array<{ name?: string | null; email: string }>).map((a) => ({
      name: a.name ?? null,
      email: a.email,
    }));
  }
  return out;
}

function setError(err: unknown, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'SENDER_NOT_OWNED')) return { type: 'forbiddenFrom', description: err.message };
  if (isMailError(err, 'NOT_FOUND')) return { type: 'notFound', description: err.message };
  if (isMailError(err, 'FORBIDDEN')) return { type: 'forbidden', description: err.message };
  if (isMailError(err, 'LIMIT_REACHED')) return { type: 'overQuota', description: err.message };
  if (isMailError(err, 'INVALID_INPUT')) {
    const property = ['email', 'name', 'textSignature', 'htmlSignature', 'replyTo', 'bcc'].find((p) =>
      err.message.startsWith(p),
    );
    return { type: 'invalidProperties', description: err.message, ...(property ? { properties: [property] } : {}) };
  }
  log.error({ err }, 'an identity could not be changed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}
