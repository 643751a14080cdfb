/**
 * PushSubscription/get and /set (RFC 8620 §7.2) on services/push: no accountId (a subscription is the
 * login's), no state; `url` and `keys` are never returned; only `verificationCode`, `expires` and
 * `types` may be changed, and the code must be the one the server POSTed to the url.
 */
import type { PushSubscriptionRecord } from '../../store/index.js';
import { PUSH_TYPES, type PushSubscriptions } from '../../services/push/index.js';
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { getIds, getProperties, getResponse, idNumber, pick, setArgs } from './args.js';
import { CORE, MethodError, isObject, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { nullIfEmpty } from './mailbox.js';

const PROPERTIES = ['id', 'deviceClientId', 'verificationCode', 'expires', 'types'];
const CREATE = new Set(['deviceClientId', 'url', 'keys', 'verificationCode', 'expires', 'types']);
const UPDATE = new Set(['verificationCode', 'expires', 'types']);

const pushId = (id: number) => `p${id}`;

export function pushSubscriptionMethods(push: PushSubscriptions): Array<[string, MethodEntry]> {
  return [
    ['PushSubscription/get', { capability: CORE, run: (args, ctx) => get(push, args, ctx) }],
    ['PushSubscription/set', { capability: CORE, run: (args, ctx) => set(push, args, ctx) }],
  ];
}

async function get(push: PushSubscriptions, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const props = getProperties(args, PROPERTIES, PROPERTIES);
  const all = await push.list(ctx.accountId);
  return getResponse(
    ids,
    all,
    (s) => pushId(s.id),
    (s) => pick(shape(s), props),
  );
}

function shape(s: PushSubscriptionRecord): Args {
  return {
    id: pushId(s.id),
    deviceClientId: s.deviceClientId,
    // What the client set: null until it echoed the code sent to its url.
    verificationCode: s.verified ? s.verificationCode : null,
    expires: s.expires.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    types: s.types,
  };
}

async function set(push: PushSubscriptions, args: Args, ctx: CallContext): Promise<Args> {
  const { create, update, destroy } = setArgs(args);
  const created: Args = {};
  const notCreated: Args = {};
  for (const [cid, props] of Object.entries(create))
    try {
      const record = await push.create(ctx.accountId, createInput(props));
      ctx.createdIds.set(cid, pushId(record.id));
      created[cid] = { id: pushId(record.id), expires: shape(record).expires };
    } catch (err) {
      notCreated[cid] = setError(err, ctx.log);
    }
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries(update))
    try {
      const n = idNumber('p', id);
      if (n === undefined) throw new MethodError('notFound', 'no such push subscription');
      const record = await push.update(ctx.accountId, n, updateInput(patch));
      updated[id] = patch && isObject(patch) && patch.expires !== undefined ? { expires: shape(record).expires } : null;
    } catch (err) {
      notUpdated[id] = setError(err, ctx.log);
    }
  const wanted = destroy.map((id) => [id, idNumber('p', id)] as const);
  const removed = new Set(
    await push.destroy(
      ctx.accountId,
      wanted.flatMap(([, n]) => (n === undefined ? [] : [n])),
    ),
  );
  const destroyed = wanted.filter(([, n]) => n !== undefined && removed.has(n)).map(([id]) => id);
  const notDestroyed = Object.fromEntries(
    wanted
      .filter(([, n]) => n === undefined || !removed.has(n))
      .map(([id]) => [id, { type: 'notFound', description: 'no such push subscription' }]),
  );
  return {
    created: nullIfEmpty(created),
    updated: nullIfEmpty(updated),
    destroyed: destroyed.length ? destroyed : null,
    notCreated: nullIfEmpty(notCreated),
    notUpdated: nullIfEmpty(notUpdated),
    notDestroyed: nullIfEmpty(notDestroyed),
  };
}

const badProperty = (name: string, description: string) =>
  new MethodError('invalidProperties', description, { properties: [name] });

function createInput(props: unknown): Parameters<PushSubscriptions['create']>[1] {
  if (!isObject(props)) throw new MethodError('invalidProperties', 'a push subscription must be an object');
  for (const key of Object.keys(props))
    if (!CREATE.has(key)) throw badProperty(key, `${key.slice(0, 40)} is not a property a client sets`);
  const { deviceClientId, url } = props;
  if (typeof deviceClientId !== 'string' || deviceClientId === '' || deviceClientId.length > 255)
    throw badProperty('deviceClientId', 'deviceClientId must be a string of 1 to 255 characters');
  if (typeof url !== 'string') throw badProperty('url', 'url must be a string');
  // RFC 8620 §7.2: the server generates the code; a client cannot set one when creating.
  if (props.verificationCode !== undefined && props.verificationCode !== null)
    throw badProperty('verificationCode', 'verificationCode must be null when creating');
  return {
    deviceClientId,
    url,
    keys: keysOf(props.keys),
    expires: expiresOf(props.expires),
    types: typesOf(props.types),
  };
}

function updateInput(patch: unknown): Parameters<PushSubscriptions['update']>[2] {
  if (!isObject(patch)) throw new MethodError('invalidPatch', 'a patch must be an object');
  for (const key of Object.keys(patch))
    if (!UPDATE.has(key)) throw badProperty(key, `${key.slice(0, 40)} cannot be changed`);
  const out: Parameters<PushSubscriptions['update']>[2] = {};
  if (patch.verificationCode !== undefined) {
    if (typeof patch.verificationCode !== 'string')
      throw badProperty('verificationCode', 'verificationCode must be the code sent');
    out.verificationCode = patch.verificationCode;
  }
  if (patch.expires !== undefined) out.expires = expiresOf(patch.expires);
  if (patch.types !== undefined) out.types = typesOf(patch.types);
  return out;
}

function keysOf(v: unknown): { p256dh: string; auth: string } | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v) || typeof v.p256dh !== 'string' || typeof v.auth !== 'string' || Object.keys(v).length !== 2)
    throw badProperty('keys', 'keys must be { p256dh, auth }');
  return { p256dh: v.p256dh, auth: v.auth };
}

function expiresOf(v: unknown): Date | null {
  if (v === undefined || v === null) return null;
  // RFC 8620 §1.4 UTCDate.
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v)))
    throw badProperty('expires', 'expires must be a UTCDate such as 2026-12-31T23:59:59Z');
  return new Date(v);
}

function typesOf(v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((t) => typeof t === 'string') || v.length > 50)
    throw badProperty('types', `types must be null or type names (${PUSH_TYPES.join(', ')})`);
  return [...new Set(v as string[])];
}

function setError(err: unknown, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'NOT_FOUND')) return { type: 'notFound', description: err.message };
  if (isMailError(err, 'LIMIT_REACHED')) return { type: 'overQuota', description: err.message };
  if (isMailError(err, 'INVALID_INPUT')) {
    const property = ['url', 'keys', 'expires', 'verificationCode'].find((p) => err.message.startsWith(p));
    return { type: 'invalidProperties', description: err.message, ...(property ? { properties: [property] } : {}) };
  }
  log.error({ err }, 'a push subscription could not be changed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}
