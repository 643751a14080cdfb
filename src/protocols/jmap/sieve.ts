/**
 * Sieve over JMAP (RFC 9661): SieveScript get, query, changes, set (with onSuccessActivateScript
 * and onSuccessDeactivateScript) and validate, on the account's script store — the one ManageSieve,
 * the account page's rules and delivery use. A script's content is a blob ("v" and its SHA-256):
 * uploaded, then named in SieveScript/set; read back by download.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { isMailError } from '../../lib/errors.js';
import { SieveError } from '../../mail/sieve/compile.js';
import { SieveQuotaError, type SieveScripts } from '../../services/sieve/index.js';
import { getIds, idNumber, invalid, noChanges, setArgs, stringArg } from './args.js';
import { isObject, LIMITS, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';
import { setResponse, type SetOutcome } from './mailbox.js';
import type { Uploads } from './uploads.js';

export const SIEVE = 'urn:ietf:params:jmap:sieve';

export interface SieveDeps {
  sieve: SieveScripts;
  uploads: Uploads;
}

const scriptId = (id: number) => `S${id}`;
export const scriptBlobId = (content: string) => `v${createHash('sha256').update(content).digest('hex')}`;

/** RFC 9661 §2: the account capability. */
export function sieveCapability(sieve: SieveScripts): Args {
  return {
    maxSizeScriptName: 128,
    maxSizeScript: sieve.limits.maxScriptBytes,
    maxNumberScripts: sieve.limits.maxScripts,
    maxNumberRedirects: null,
    sieveExtensions: sieve.extensions(),
    notificationMethods: null,
    externalLists: null,
    implementation: 'Postern',
  };
}

export function sieveMethods(deps: SieveDeps): Array<[string, MethodEntry]> {
  return [
    ['SieveScript/get', { capability: SIEVE, run: (args, ctx) => get(deps, args, ctx) }],
    ['SieveScript/query', { capability: SIEVE, run: (args, ctx) => query(deps, args, ctx) }],
    ['SieveScript/changes', { capability: SIEVE, run: (args, ctx) => changes(deps, args, ctx) }],
    ['SieveScript/set', { capability: SIEVE, run: (args, ctx) => set(deps, args, ctx) }],
    ['SieveScript/validate', { capability: SIEVE, run: (args, ctx) => validate(deps, args, ctx) }],
  ];
}

interface Script {
  id: number;
  name: string;
  content: string;
  isActive: boolean;
}

async function scripts(deps: SieveDeps, ctx: CallContext): Promise<Script[]> {
  const out: Script[] = [];
  for (const s of await deps.sieve.list(ctx.accountId)) out.push(await deps.sieve.get(ctx.accountId, s.name));
  return out;
}

/** The state: the scripts' ids, names, contents and which is active. */
function stateOf(list: Script[]): string {
  const h = createHash('sha256');
  for (const s of list) h.update(`${s.id}\0${s.name}\0${s.isActive ? 1 : 0}\0${scriptBlobId(s.content)}\n`);
  return h.digest('base64url').slice(0, 16);
}

const shape = (s: Script): Args => ({
  id: scriptId(s.id),
  name: s.name,
  blobId: scriptBlobId(s.content),
  isActive: s.isActive,
});

async function get(deps: SieveDeps, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const list = await scripts(deps, ctx);
  const byId = new Map(list.map((s) => [scriptId(s.id), s]));
  return {
    accountId: ctx.jmapAccountId,
    state: stateOf(list),
    list: (ids === null ? list : ids.flatMap((i) => byId.get(i) ?? [])).map(shape),
    notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)),
  };
}

async function query(deps: SieveDeps, args: Args, ctx: CallContext): Promise<Args> {
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterCondition');
  let list = await scripts(deps, ctx);
  if (filter) {
    for (const k of Object.keys(filter))
      if (k !== 'name' && k !== 'isActive')
        throw new MethodError('unsupportedFilter', `cannot filter scripts by ${k.slice(0, 40)}`);
    list = list.filter(
      (s) =>
        (typeof filter.name !== 'string' || s.name.toLowerCase().includes(filter.name.toLowerCase())) &&
        (typeof filter.isActive !== 'boolean' || s.isActive === filter.isActive),
    );
  }
  return {
    accountId: ctx.jmapAccountId,
    queryState: stateOf(await scripts(deps, ctx)),
    canCalculateChanges: false,
    position: 0,
    ids: list.map((s) => scriptId(s.id)),
    total: list.length,
  };
}

/** Scripts keep no change log: the same state has no changes, any other is recalculated by a /get. */
async function changes(deps: SieveDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  return noChanges(ctx, since, stateOf(await scripts(deps, ctx)), 'the scripts changed: read them again');
}

/** The text a blob id names: an upload of this account, or one of its scripts. */
async function scriptText(deps: SieveDeps, ctx: CallContext, blobId: unknown): Promise<string> {
  if (typeof blobId !== 'string')
    throw new MethodError('invalidProperties', 'blobId is required', { properties: ['blobId'] });
  const upload = deps.uploads.get(ctx.accountId, blobId);
  if (upload) return upload.data.toString('utf8');
  const script = (await scripts(deps, ctx)).find((s) => scriptBlobId(s.content) === blobId);
  if (script) return script.content;
  throw new MethodError('blobNotFound', `no blob ${blobId.slice(0, 80)}`, { notFound: [blobId] });
}

/** The script behind an id or a creation reference. */
async function byId(deps: SieveDeps, ctx: CallContext, id: string): Promise<Script> {
  const resolved = id.startsWith('#') ? (ctx.createdIds.get(id.slice(1)) ?? '') : id;
  const n = resolved.startsWith('S') ? idNumber('s', `s${resolved.slice(1)}`) : undefined;
  const s = (await scripts(deps, ctx)).find((x) => x.id === n);
  if (!s) throw new MethodError('notFound', `no script ${id.slice(0, 40)}`);
  return s;
}

async function set(deps: SieveDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = stateOf(await scripts(deps, ctx));
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the scripts changed since that state');
  const { create, update, destroy } = setArgs(args);
  const out: SetOutcome = { created: {}, notCreated: {}, updated: {}, notUpdated: {}, destroyed: [], notDestroyed: {} };
  for (const [cid, props] of Object.entries(create))
    try {
      if (!isObject(props) || typeof props.name !== 'string')
        throw new MethodError('invalidProperties', 'a script needs a name and a blobId', { properties: ['name'] });
      const content = await scriptText(deps, ctx, props.blobId);
      if ((await deps.sieve.list(ctx.accountId)).some((s) => s.name === props.name))
        throw new MethodError('alreadyExists', `a script named ${props.name.slice(0, 80)} exists`);
      await deps.sieve.put(ctx.accountId, props.name, content);
      const made = await deps.sieve.get(ctx.accountId, props.name);
      ctx.createdIds.set(cid, scriptId(made.id));
      out.created[cid] = { id: scriptId(made.id), blobId: scriptBlobId(content), isActive: false };
    } catch (err) {
      out.notCreated[cid] = scriptError(err, ctx.log);
    }
  for (const [id, patch] of Object.entries(update))
    try {
      if (!isObject(patch)) throw new MethodError('invalidPatch', 'a patch must be an object');
      const s = await byId(deps, ctx, id);
      if (typeof patch.blobId === 'string')
        await deps.sieve.put(ctx.accountId, s.name, await scriptText(deps, ctx, patch.blobId));
      if (typeof patch.name === 'string' && patch.name !== s.name)
        await deps.sieve.rename(ctx.accountId, s.name, patch.name);
      out.updated[id] = null;
    } catch (err) {
      out.notUpdated[id] = scriptError(err, ctx.log);
    }
  for (const id of destroy)
    try {
      const s = await byId(deps, ctx, id);
      if (s.isActive) throw new MethodError('sieveIsActive', 'deactivate the script first');
      await deps.sieve.remove(ctx.accountId, s.name);
      out.destroyed.push(id);
    } catch (err) {
      out.notDestroyed[id] = scriptError(err, ctx.log);
    }
  const failed = [out.notCreated, out.notUpdated, out.notDestroyed].some((o) => Object.keys(o).length > 0);
  if (!failed) await activation(deps, args, ctx, out);
  return setResponse(ctx, oldState, stateOf(await scripts(deps, ctx)), out);
}

/**
 * RFC 9661 §2.2: once every creation, update and destruction succeeded, onSuccessActivateScript (an
 * id or "#creation id"; an unknown one is ignored) or onSuccessDeactivateScript; the scripts whose
 * state changed are reported with isActive.
 */
async function activation(
  deps: SieveDeps,
  args: Args,
  ctx: CallContext,
  out: { created: Args; updated: Args },
): Promise<void> {
  const activate = args.onSuccessActivateScript;
  const before = (await scripts(deps, ctx)).find((s) => s.isActive);
  let after: Script | undefined;
  if (typeof activate === 'string') {
    after = await byId(deps, ctx, activate).catch(() => undefined);
    if (!after) return;
    await deps.sieve.setActive(ctx.accountId, after.name);
  } else if (args.onSuccessDeactivateScript === true) await deps.sieve.setActive(ctx.accountId, null);
  else return;
  const report = (s: Script, isActive: boolean) => {
    const created = Object.entries(out.created).find(([, v]) => isObject(v) && v.id === scriptId(s.id));
    if (created) (created[1] as Args).isActive = isActive;
    else out.updated[scriptId(s.id)] = { isActive };
  };
  if (before && before.id !== after?.id) report(before, false);
  if (after && before?.id !== after.id) report(after, true);
}

async function validate(deps: SieveDeps, args: Args, ctx: CallContext): Promise<Args> {
  const content = await scriptText(deps, ctx, args.blobId).catch((err: unknown) => {
    throw err instanceof MethodError && err.type === 'blobNotFound'
      ? new MethodError('invalidArguments', err.message)
      : err;
  });
  try {
    deps.sieve.check(content);
    return { accountId: ctx.jmapAccountId, error: null };
  } catch (err) {
    return { accountId: ctx.jmapAccountId, error: scriptError(err, ctx.log) };
  }
}

function scriptError(err: unknown, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (err instanceof SieveError) return { type: 'invalidSieve', description: err.message };
  if (err instanceof SieveQuotaError) return { type: 'overQuota', description: err.message };
  if (isMailError(err, 'ALREADY_EXISTS')) return { type: 'alreadyExists', description: err.message };
  if (isMailError(err, 'INVALID_INPUT'))
    return { type: 'invalidProperties', description: err.message, properties: ['name'] };
  if (isMailError(err, 'NOT_FOUND')) return { type: 'notFound', description: err.message };
  log.error({ err }, 'a JMAP object could not be changed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}
