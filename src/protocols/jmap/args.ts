/**
 * Argument checks shared by the JMAP methods (RFC 8620 §5): ids, property lists, positions and
 * limits, each failing with invalidArguments and what is wrong; and the ids Postern gives out.
 */
import type { ChangeSet } from '../../services/mailboxes/emails.js';
import { LIMITS, MethodError, type Args, type CallContext } from './dispatch.js';

/**
 * Ids (RFC 8620 §1.2: 1 to 255 URL-safe characters): a letter saying what the object is and its
 * number, so that an id of one type is never taken for another's.
 */
export const jmapId = {
  mailbox: (id: number) => `m${id}`,
  email: (id: number) => `e${id}`,
  thread: (id: number) => `t${id}`,
  /** An email's content as stored (with the fields delivery added on top). */
  blob: (emailId: number) => `g${emailId}`,
};

/** The number in an id of that kind, or undefined for anything else (an unknown id is "notFound", not an error). */
export function idNumber(kind: 'm' | 'e' | 't' | 's' | 'p' | 'i', id: string): number | undefined {
  if (id.length < 2 || id.length > 16 || id[0] !== kind || !/^\d+$/.test(id.slice(1))) return undefined;
  const n = Number(id.slice(1));
  return Number.isSafeInteger(n) ? n : undefined;
}

export function invalid(description: string): MethodError {
  return new MethodError('invalidArguments', description);
}

/** `ids` of a /get: null (all) or an array of strings, at most maxObjectsInGet. */
export function getIds(args: Args, allowed = LIMITS.maxObjectsInGet): string[] | null {
  const ids = args.ids ?? null;
  if (ids === null) return null;
  if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string'))
    throw invalid('ids must be null or an array of ids');
  if (ids.length > allowed)
    throw new MethodError('requestTooLarge', `at most ${allowed} ids in one /get`, { limit: 'maxObjectsInGet' });
  return ids as string[];
}

/** `properties` of a /get: null (the defaults) or known property names; `id` is always returned. */
export function getProperties(args: Args, known: readonly string[], defaults: readonly string[]): Set<string> {
  const props = args.properties ?? null;
  if (props === null) return new Set(['id', ...defaults]);
  if (!Array.isArray(props) || !props.every((p) => typeof p === 'string'))
    throw invalid('properties must be null or an array of property names');
  const unknown = (props as string[]).find((p) => !known.includes(p) && !p.startsWith('header:'));
  if (unknown) throw invalid(`unknown property ${unknown.slice(0, 80)}`);
  return new Set(['id', ...(props as string[])]);
}

/**
 * The create, update and destroy of a /set (RFC 8620 §5.3): objects or null, ids, at most
 * maxObjectsInSet in all (requestTooLarge past that).
 */
export function setArgs(args: Args): { create: Args; update: Args; destroy: string[] } {
  const objectOf = (name: string): Args => {
    const v = args[name] ?? null;
    if (v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${name} must be an object`);
    return v as Args;
  };
  const create = objectOf('create');
  const update = objectOf('update');
  const destroy = args.destroy ?? [];
  if (!Array.isArray(destroy) || !destroy.every((d) => typeof d === 'string')) throw invalid('destroy must be ids');
  if (Object.keys(create).length + Object.keys(update).length + destroy.length > LIMITS.maxObjectsInSet)
    throw new MethodError('requestTooLarge', `at most ${LIMITS.maxObjectsInSet} objects in one /set`, {
      limit: 'maxObjectsInSet',
    });
  return { create, update, destroy: destroy as string[] };
}

export function stringArg(args: Args, name: string): string {
  const v = args[name];
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  return v;
}

/** An UnsignedInt argument (RFC 8620 §1.3), or `fallback` when absent or null. */
export function unsignedArg(args: Args, name: string, fallback: number): number {
  const v = args[name] ?? null;
  if (v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`${name} must be an unsigned integer`);
  return v;
}

/** An Int argument (may be negative: Email/query's position counts from the end). */
export function intArg(args: Args, name: string, fallback: number): number {
  const v = args[name] ?? null;
  if (v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`${name} must be an integer`);
  return v;
}

export function boolArg(args: Args, name: string, fallback: boolean): boolean {
  const v = args[name] ?? null;
  if (v === null) return fallback;
  if (typeof v !== 'boolean') throw invalid(`${name} must be true or false`);
  return v;
}

/** A /changes' maxChanges: a positive number, or a default when absent. */
export function maxChangesArg(args: Args): number {
  const v = unsignedArg(args, 'maxChanges', 10_000);
  if (v === 0) throw invalid('maxChanges must be greater than 0');
  return Math.min(v, 10_000);
}

/** The /get response's list and notFound, from what was found by id. */
export function getResponse<T>(
  ids: string[] | null,
  all: T[],
  idOf: (t: T) => string,
  shape: (t: T) => Args,
): { list: Args[]; notFound: string[] } {
  if (ids === null) return { list: all.map(shape), notFound: [] };
  const byId = new Map(all.map((t) => [idOf(t), t]));
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of new Set(ids)) {
    const t = byId.get(id);
    if (t) list.push(shape(t));
    else notFound.push(id);
  }
  return { list, notFound };
}

/** Only the properties asked for (and id). */
export function pick(full: Args, props: Set<string>): Args {
  const out: Args = {};
  for (const p of props) if (p in full) out[p] = full[p];
  return out;
}

/** A /changes response (RFC 8620 §5.2) from a change set of numeric ids. */
export function changesResponse(ctx: CallContext, r: ChangeSet, id: (n: number) => string): Args {
  return {
    accountId: ctx.jmapAccountId,
    oldState: r.oldState,
    newState: r.newState,
    hasMoreChanges: r.hasMoreChanges,
    created: r.created.map(id),
    updated: r.updated.map(id),
    destroyed: r.destroyed.map(id),
  };
}

/** /changes of a type that keeps no log: the same state has none, any other cannot be calculated. */
export function noChanges(ctx: CallContext, since: string, state: string, why: string): Args {
  if (since !== state) throw new MethodError('cannotCalculateChanges', why);
  return changesResponse(
    ctx,
    { oldState: since, newState: state, hasMoreChanges: false, created: [], updated: [], destroyed: [] },
    String,
  );
}
