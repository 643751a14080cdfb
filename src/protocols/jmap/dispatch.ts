/**
 * The JMAP API request (RFC 8620 §3): the Request object checked, each method call run in order with
 * its result references resolved (§3.7), and method-level errors (§3.6.2) answered in place of a
 * call's response while the rest go on.
 */
import { isMailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';

export const CORE = 'urn:ietf:params:jmap:core';
export const MAIL = 'urn:ietf:params:jmap:mail';

/** RFC 8620 §2 core capability limits, advertised in the session and enforced here and in the methods. */
export const LIMITS = {
  maxSizeUpload: 50_000_000,
  maxConcurrentUpload: 4,
  maxSizeRequest: 10_000_000,
  maxConcurrentRequests: 4,
  maxCallsInRequest: 16,
  maxObjectsInGet: 500,
  maxObjectsInSet: 500,
  collationAlgorithms: ['i;ascii-casemap', 'i;unicode-casemap'],
} as const;

/** A method-level error (RFC 8620 §3.6.2, RFC 8621's own types): `type` and an optional description. */
export class MethodError extends Error {
  constructor(
    readonly type: string,
    description?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(description ?? type);
  }
}

/** A request-level error (RFC 8620 §3.6.1): answered as an RFC 7807 problem with status 400. */
export class RequestError extends Error {
  constructor(
    readonly type: string,
    readonly detail: string,
    readonly status = 400,
    readonly limit?: string,
  ) {
    super(detail);
  }
}

export type Args = Record<string, unknown>;
export interface CallContext {
  accountId: number;
  /** The account's address (the login). */
  address: string;
  /** The client's IP address. */
  ip: string;
  /** Further responses this call adds after its own (RFC 8621 §7.5: the implicit Email/set of a submission). */
  followUps: Array<[string, Args]>;
  /** The account id as JMAP names it. */
  jmapAccountId: string;
  using: ReadonlySet<string>;
  /** Ids the request created so far (creation id → id), for "#creationId" references. */
  createdIds: Map<string, string>;
  log: Logger;
}
/** A method: its arguments in, its response arguments out; may add further responses (Email/set after a submission). */
export type Method = (args: Args, ctx: CallContext) => Promise<Args>;
export interface MethodEntry {
  capability: string;
  run: Method;
}

type Invocation = [string, Args, string];

export async function runRequest(
  body: unknown,
  methods: ReadonlyMap<string, MethodEntry>,
  ctx: Omit<CallContext, 'using' | 'createdIds' | 'followUps'>,
  sessionState: string,
): Promise<{ methodResponses: Invocation[]; sessionState: string; createdIds?: Record<string, string> }> {
  const request = checkRequest(body);
  const using = new Set(request.using);
  const known = new Set([CORE, ...[...methods.values()].map((m) => m.capability)]);
  const unknown = request.using.find((u) => !known.has(u));
  if (unknown) throw new RequestError('urn:ietf:params:jmap:error:unknownCapability', `unknown capability ${unknown}`);
  const createdIds = new Map(Object.entries(request.createdIds ?? {}));
  const context: CallContext = { ...ctx, using, createdIds, followUps: [] };
  const responses: Invocation[] = [];
  for (const [name, rawArgs, callId] of request.methodCalls) {
    const method = methods.get(name);
    try {
      if (!method) throw new MethodError('unknownMethod', `no method ${name.slice(0, 80)}`);
      if (!using.has(method.capability))
        throw new MethodError('unknownMethod', `${name} needs ${method.capability} in "using"`);
      const args = resolveReferences(rawArgs, responses);
      if (args.accountId !== undefined && args.accountId !== ctx.jmapAccountId)
        throw new MethodError('accountNotFound', 'no such account for this login');
      context.followUps = [];
      responses.push([name, await method.run(args, context), callId]);
      for (const [more, moreArgs] of context.followUps) responses.push([more, moreArgs, callId]);
    } catch (err) {
      responses.push(['error', errorArgs(err, name, ctx.log), callId]);
    }
  }
  return {
    methodResponses: responses,
    sessionState,
    ...(request.createdIds ? { createdIds: Object.fromEntries(createdIds) } : {}),
  };
}

function errorArgs(err: unknown, name: string, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'INVALID_INPUT')) return { type: 'invalidArguments', description: err.message };
  if (isMailError(err, 'FORBIDDEN')) return { type: 'forbidden', description: err.message };
  if (isMailError(err, 'OVER_QUOTA')) return { type: 'overQuota', description: err.message };
  log.error({ method: name, err }, 'JMAP method failed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}

interface JmapRequest {
  using: string[];
  methodCalls: Invocation[];
  createdIds?: Record<string, string>;
}

/** RFC 8620 §3.3 and §3.6.1: notRequest for anything but a Request object; limit past maxCallsInRequest. */
function checkRequest(body: unknown): JmapRequest {
  const fail = (detail: string) => new RequestError('urn:ietf:params:jmap:error:notRequest', detail);
  if (!isObject(body)) throw fail('the request is not a JSON object');
  const { using, methodCalls, createdIds } = body;
  if (!Array.isArray(using) || !using.every((u) => typeof u === 'string'))
    throw fail('"using" must be an array of capability strings');
  if (!Array.isArray(methodCalls)) throw fail('"methodCalls" must be an array');
  if (methodCalls.length > LIMITS.maxCallsInRequest)
    throw new RequestError(
      'urn:ietf:params:jmap:error:limit',
      `at most ${LIMITS.maxCallsInRequest} method calls in one request`,
      400,
      'maxCallsInRequest',
    );
  for (const call of methodCalls)
    if (
      !Array.isArray(call) ||
      call.length !== 3 ||
      typeof call[0] !== 'string' ||
      !isObject(call[1]) ||
      typeof call[2] !== 'string'
    )
      throw fail('each method call must be [name, arguments object, call id]');
  if (
    createdIds !== undefined &&
    (!isObject(createdIds) || !Object.values(createdIds).every((v) => typeof v === 'string'))
  )
    throw fail('"createdIds" must map creation ids to ids');
  return {
    using: using as string[],
    methodCalls: methodCalls as Invocation[],
    ...(createdIds === undefined ? {} : { createdIds: createdIds as Record<string, string> }),
  };
}

/** RFC 8620 §3.7: "#name" arguments are ResultReferences, replaced by what the path finds in an earlier response. */
function resolveReferences(args: Args, responses: Invocation[]): Args {
  const out: Args = {};
  for (const [key, value] of Object.entries(args)) {
    if (!key.startsWith('#')) {
      out[key] = value;
      continue;
    }
    const name = key.slice(1);
    if (Object.hasOwn(args, name)) throw new MethodError('invalidArguments', `both ${name} and #${name} given`);
    if (
      !isObject(value) ||
      typeof value.resultOf !== 'string' ||
      typeof value.name !== 'string' ||
      typeof value.path !== 'string'
    )
      throw new MethodError('invalidResultReference', `#${name} is not a ResultReference`);
    const source = responses.find((r) => r[2] === value.resultOf);
    if (!source || source[0] !== value.name)
      throw new MethodError('invalidResultReference', `no ${value.name} response with call id ${value.resultOf}`);
    const found = evaluatePointer(source[1], value.path);
    if (found === undefined) throw new MethodError('invalidResultReference', `nothing at ${value.path}`);
    out[name] = found;
  }
  return out;
}

/** RFC 8620 §3.7: a JSON Pointer (RFC 6901) where "*" maps over an array, flattening arrays it yields. */
export function evaluatePointer(value: unknown, path: string): unknown {
  if (path === '') return value;
  if (!path.startsWith('/')) return undefined;
  const tokens = path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const walk = (v: unknown, i: number): unknown => {
    if (i === tokens.length) return v;
    const t = tokens[i]!;
    if (Array.isArray(v)) {
      if (t === '*') {
        const mapped = v.map((item) => walk(item, i + 1));
        if (mapped.some((m) => m === undefined)) return undefined;
        return mapped.flatMap((m) => (Array.isArray(m) ? m : [m]));
      }
      if (!/^(0|[1-9]\d*)$/.test(t)) return undefined;
      return walk(v[Number(t)], i + 1);
    }
    if (isObject(v) && Object.hasOwn(v, t)) return walk(v[t], i + 1);
    return undefined;
  };
  return walk(value, 0);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
