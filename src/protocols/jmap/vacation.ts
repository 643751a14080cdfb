/**
 * VacationResponse (RFC 8621 §8): the one vacation reply of the account, kept where the account page
 * and ManageSieve see it — the vacation part of the account's mail rules, a Sieve vacation action
 * (services/admin/self-rules.ts): its dates are currentdate tests (RFC 5260) around it, its HTML
 * body a :mime multipart/alternative reply next to the text.
 */
import { createHash } from 'node:crypto';
import { isMailError } from '../../lib/errors.js';
import { htmlToText } from '../../mail/mime/text.js';
import { accountPrincipal } from '../../services/admin/access.js';
import type { SelfRules } from '../../services/admin/self-rules.js';
import { getIds } from './args.js';
import { isObject, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';

export const VACATION = 'urn:ietf:params:jmap:vacationresponse';
const SINGLETON = 'singleton';

export function vacationMethods(rules: SelfRules): Array<[string, MethodEntry]> {
  return [
    ['VacationResponse/get', { capability: VACATION, run: (args, ctx) => get(rules, args, ctx) }],
    ['VacationResponse/set', { capability: VACATION, run: (args, ctx) => set(rules, args, ctx) }],
  ];
}

const principal = (ctx: CallContext) =>
  accountPrincipal({ accountId: ctx.accountId, address: ctx.address }, { via: 'jmap', remote: ctx.ip });

async function current(rules: SelfRules, ctx: CallContext): Promise<Args> {
  const v = (await rules.get(principal(ctx))).vacation;
  return {
    id: SINGLETON,
    isEnabled: v.enabled,
    fromDate: v.fromDate,
    toDate: v.toDate,
    subject: v.subject || null,
    textBody: v.body || null,
    htmlBody: v.html || null,
  };
}

/** The state is the reply itself: it changes exactly when the reply does. */
function stateOf(v: Args): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('base64url').slice(0, 16);
}

async function get(rules: SelfRules, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const v = await current(rules, ctx);
  return {
    accountId: ctx.jmapAccountId,
    state: stateOf(v),
    list: ids === null || ids.includes(SINGLETON) ? [v] : [],
    notFound: ids === null ? [] : ids.filter((i) => i !== SINGLETON),
  };
}

async function set(rules: SelfRules, args: Args, ctx: CallContext): Promise<Args> {
  const before = await current(rules, ctx);
  const oldState = stateOf(before);
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the vacation reply changed since that state');
  const notCreated = isObject(args.create)
    ? Object.fromEntries(
        Object.keys(args.create).map((k) => [
          k,
          { type: 'singleton', description: 'there is one vacation reply: update it' },
        ]),
      )
    : null;
  const notDestroyed = Array.isArray(args.destroy)
    ? Object.fromEntries((args.destroy as string[]).map((k) => [k, { type: 'singleton' }]))
    : null;
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries(isObject(args.update) ? args.update : {})) {
    if (id !== SINGLETON) {
      notUpdated[id] = { type: 'notFound' };
      continue;
    }
    try {
      await update(rules, ctx, before, patch);
      updated[id] = null;
    } catch (err) {
      if (err instanceof MethodError) notUpdated[id] = { type: err.type, description: err.message, ...err.extra };
      else if (isMailError(err, 'INVALID_INPUT') || isMailError(err, 'ALREADY_EXISTS'))
        notUpdated[id] = { type: 'invalidProperties', description: err.message };
      else throw err;
    }
  }
  return {
    accountId: ctx.jmapAccountId,
    oldState,
    newState: stateOf(await current(rules, ctx)),
    created: null,
    updated: Object.keys(updated).length ? updated : null,
    destroyed: null,
    notCreated,
    notUpdated: Object.keys(notUpdated).length ? notUpdated : null,
    notDestroyed,
  };
}

async function update(rules: SelfRules, ctx: CallContext, before: Args, patch: unknown): Promise<void> {
  if (!isObject(patch)) throw new MethodError('invalidPatch', 'a patch must be an object');
  const refused = Object.keys(patch).filter(
    (k) => !['isEnabled', 'fromDate', 'toDate', 'subject', 'textBody', 'htmlBody'].includes(k),
  );
  if (refused.length)
    throw new MethodError('invalidProperties', `${refused.join(', ')} cannot be set`, { properties: refused });
  const next = { ...before, ...patch };
  const view = await rules.get(principal(ctx));
  await rules.set(principal(ctx), 'vacation', {
    ...view.vacation,
    enabled: next.isEnabled === true,
    subject: typeof next.subject === 'string' ? next.subject : '',
    // RFC 8621 §8: a reply given only as HTML gets its text from the HTML.
    body:
      typeof next.textBody === 'string' && next.textBody
        ? next.textBody
        : typeof next.htmlBody === 'string'
          ? htmlToText(next.htmlBody).trim()
          : '',
    fromDate: next.fromDate ?? null,
    toDate: next.toDate ?? null,
    html: typeof next.htmlBody === 'string' ? next.htmlBody : '',
  });
}
