/**
 * Mailbox/get, /changes, /query and /set (RFC 8621 §2) over the account's IMAP mailboxes: one
 * hierarchy ("/" separated names), special-use attributes as roles (RFC 8621 §2, RFC 6154), counts
 * from the messages themselves.
 */
import type { Logger } from '../../lib/log.js';
import { isMailError } from '../../lib/errors.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { EmailViews } from '../../services/mailboxes/emails.js';
import type { MailboxRecord } from '../../store/index.js';
import {
  boolArg,
  changesResponse,
  getIds,
  getProperties,
  getResponse,
  idNumber,
  invalid,
  jmapId,
  maxChangesArg,
  pick,
  setArgs,
  stringArg,
} from './args.js';
import { isObject, LIMITS, MAIL, MethodError, type Args, type CallContext, type MethodEntry } from './dispatch.js';

const SEPARATOR = '/';
const PROPERTIES = [
  'id',
  'name',
  'parentId',
  'role',
  'sortOrder',
  'totalEmails',
  'unreadEmails',
  'totalThreads',
  'unreadThreads',
  'myRights',
  'isSubscribed',
] as const;
const COUNTS = ['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads'];

const ROLES: Record<string, string> = {
  '\\Drafts': 'drafts',
  '\\Sent': 'sent',
  '\\Trash': 'trash',
  '\\Junk': 'junk',
  '\\Archive': 'archive',
  '\\All': 'all',
  '\\Flagged': 'flagged',
};

const RIGHTS = {
  mayReadItems: true,
  mayAddItems: true,
  mayRemoveItems: true,
  maySetSeen: true,
  maySetKeywords: true,
  mayCreateChild: true,
  mayRename: true,
  mayDelete: true,
  maySubmit: true,
};

export interface MailboxDeps {
  mailboxes: Mailboxes;
  views: EmailViews;
}

/** The account's mailboxes as JMAP objects, with their counts. */
export async function mailboxObjects(deps: MailboxDeps, accountId: number): Promise<Args[]> {
  const boxes = await deps.mailboxes.list(accountId);
  const counts = new Map((await deps.views.counts(accountId)).map((c) => [c.mailboxId, c]));
  const byName = new Map(boxes.map((b) => [b.name, b]));
  return boxes.map((b) => {
    const c = counts.get(b.id);
    const cut = b.name.lastIndexOf(SEPARATOR);
    const parent = cut > 0 ? byName.get(b.name.slice(0, cut)) : undefined;
    return {
      id: jmapId.mailbox(b.id),
      name: cut > 0 ? b.name.slice(cut + 1) : b.name,
      parentId: parent ? jmapId.mailbox(parent.id) : null,
      role: roleOf(b),
      sortOrder: b.name === 'INBOX' ? 0 : b.specialUse ? 1 : 10,
      totalEmails: c?.emails ?? 0,
      unreadEmails: c?.unreadEmails ?? 0,
      totalThreads: c?.threads ?? 0,
      unreadThreads: c?.unreadThreads ?? 0,
      myRights: RIGHTS,
      isSubscribed: b.isSubscribed,
    };
  });
}

function roleOf(b: MailboxRecord): string | null {
  if (b.name === 'INBOX') return 'inbox';
  return b.specialUse ? (ROLES[b.specialUse] ?? null) : null;
}

export function mailboxMethods(deps: MailboxDeps): Array<[string, MethodEntry]> {
  return [
    ['Mailbox/get', { capability: MAIL, run: (args, ctx) => get(deps, args, ctx) }],
    ['Mailbox/changes', { capability: MAIL, run: (args, ctx) => changes(deps, args, ctx) }],
    ['Mailbox/query', { capability: MAIL, run: (args, ctx) => query(deps, args, ctx) }],
    ['Mailbox/set', { capability: MAIL, run: (args, ctx) => set(deps, args, ctx) }],
  ];
}

async function get(deps: MailboxDeps, args: Args, ctx: CallContext): Promise<Args> {
  const ids = getIds(args);
  const props = getProperties(args, PROPERTIES, PROPERTIES);
  const state = await deps.views.state(ctx.accountId);
  const all = await mailboxObjects(deps, ctx.accountId);
  return {
    accountId: ctx.jmapAccountId,
    state,
    ...getResponse(
      ids,
      all,
      (b) => b.id as string,
      (b) => pick(b, props),
    ),
  };
}

async function changes(deps: MailboxDeps, args: Args, ctx: CallContext): Promise<Args> {
  const since = stringArg(args, 'sinceState');
  const r = await changeSet(() => deps.views.mailboxChanges(ctx.accountId, since, maxChangesArg(args)));
  return { ...changesResponse(ctx, r, jmapId.mailbox), updatedProperties: r.countsOnly ? COUNTS : null };
}

/** A /changes from the service, its refusals as RFC 8620 §5.2's cannotCalculateChanges. */
export async function changeSet<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isMailError(err, 'LIMIT_REACHED') || isMailError(err, 'INVALID_INPUT'))
      throw new MethodError('cannotCalculateChanges', err.message);
    throw err;
  }
}

async function query(deps: MailboxDeps, args: Args, ctx: CallContext): Promise<Args> {
  const filter = args.filter ?? null;
  if (filter !== null && !isObject(filter)) throw invalid('filter must be a FilterCondition');
  let list = await mailboxObjects(deps, ctx.accountId);
  if (filter) {
    for (const key of Object.keys(filter))
      if (!['parentId', 'name', 'role', 'hasAnyRole', 'isSubscribed'].includes(key))
        throw new MethodError('unsupportedFilter', `cannot filter mailboxes by ${key.slice(0, 40)}`);
    list = list.filter(
      (b) =>
        (filter.parentId === undefined || b.parentId === filter.parentId) &&
        (filter.name === undefined ||
          String(b.name)
            .toLowerCase()
            .includes(String(filter.name as string).toLowerCase())) &&
        (filter.role === undefined || b.role === filter.role) &&
        (filter.hasAnyRole === undefined || (b.role !== null) === filter.hasAnyRole) &&
        (filter.isSubscribed === undefined || b.isSubscribed === filter.isSubscribed),
    );
  }
  const sort = Array.isArray(args.sort) ? (args.sort as Args[]) : [];
  for (const s of [...sort].reverse()) {
    if (!isObject(s) || (s.property !== 'name' && s.property !== 'sortOrder'))
      throw new MethodError('unsupportedSort', 'mailboxes sort by name or sortOrder');
    const dir = s.isAscending === false ? -1 : 1;
    list.sort((a, b) =>
      s.property === 'name'
        ? dir * String(a.name).localeCompare(String(b.name))
        : dir * ((a.sortOrder as number) - (b.sortOrder as number)),
    );
  }
  return {
    accountId: ctx.jmapAccountId,
    queryState: await deps.views.state(ctx.accountId),
    canCalculateChanges: false,
    position: 0,
    ids: list.map((b) => b.id),
    total: list.length,
  };
}

/** Mailbox/set (RFC 8621 §2.5): create with name and parentId, rename or move, (un)subscribe, destroy. */
async function set(deps: MailboxDeps, args: Args, ctx: CallContext): Promise<Args> {
  const oldState = await deps.views.state(ctx.accountId);
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== oldState)
    throw new MethodError('stateMismatch', 'the mailboxes changed since that state');
  const { create, update, destroy } = setArgs(args);
  const removeEmails = boolArg(args, 'onDestroyRemoveEmails', false);
  const created: Args = {};
  const notCreated: Args = {};
  for (const [cid, props] of Object.entries(create)) {
    try {
      const name = await fullName(deps, ctx, props);
      const box = await deps.mailboxes.create(ctx.accountId, name);
      if (isObject(props) && props.isSubscribed === true) await deps.mailboxes.setSubscribed(ctx.accountId, name, true);
      ctx.createdIds.set(cid, jmapId.mailbox(box.id));
      created[cid] = { id: jmapId.mailbox(box.id), ...counted(box) };
    } catch (err) {
      notCreated[cid] = setError(err, ctx.log);
    }
  }
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries(update)) {
    try {
      await updateOne(deps, ctx, id, patch);
      updated[id] = null;
    } catch (err) {
      notUpdated[id] = setError(err, ctx.log);
    }
  }
  const destroyed: string[] = [];
  const notDestroyed: Args = {};
  for (const id of destroy) {
    try {
      const box = await byId(deps, ctx, id);
      if (box.messageCount > 0 && !removeEmails)
        throw new MethodError('mailboxHasEmail', 'the mailbox holds emails (onDestroyRemoveEmails removes them)');
      const boxes = await deps.mailboxes.list(ctx.accountId);
      if (boxes.some((b) => b.name.startsWith(box.name + SEPARATOR)))
        throw new MethodError('mailboxHasChild', 'the mailbox has child mailboxes');
      await deps.mailboxes.delete(ctx.accountId, box.name);
      destroyed.push(id);
    } catch (err) {
      notDestroyed[id] = setError(err, ctx.log);
    }
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

async function updateOne(deps: MailboxDeps, ctx: CallContext, id: string, patch: unknown): Promise<void> {
  if (!isObject(patch)) throw invalid('a patch must be an object');
  const box = await byId(deps, ctx, id);
  for (const key of Object.keys(patch))
    if (!['name', 'parentId', 'isSubscribed'].includes(key))
      throw new MethodError('invalidProperties', `${key.slice(0, 40)} cannot be changed`, { properties: [key] });
  if (patch.name !== undefined || patch.parentId !== undefined) {
    const cut = box.name.lastIndexOf(SEPARATOR);
    const current = {
      name: cut > 0 ? box.name.slice(cut + 1) : box.name,
      parentId: cut > 0 ? jmapId.mailbox((await deps.mailboxes.get(ctx.accountId, box.name.slice(0, cut))).id) : null,
    };
    const target = await fullName(deps, ctx, { ...current, ...patch });
    if (target !== box.name) await deps.mailboxes.rename(ctx.accountId, box.name, target);
  }
  if (typeof patch.isSubscribed === 'boolean')
    await deps.mailboxes.setSubscribed(ctx.accountId, box.name, patch.isSubscribed);
}

/** The IMAP name a JMAP name and parentId make. */
async function fullName(deps: MailboxDeps, ctx: CallContext, props: unknown): Promise<string> {
  if (!isObject(props)) throw invalid('a mailbox must be an object');
  const name = props.name;
  if (typeof name !== 'string' || name === '' || name.includes(SEPARATOR))
    throw new MethodError('invalidProperties', `a name of 1 or more characters without "${SEPARATOR}" is needed`, {
      properties: ['name'],
    });
  let parentId = props.parentId ?? null;
  if (typeof parentId === 'string' && parentId.startsWith('#')) parentId = ctx.createdIds.get(parentId.slice(1)) ?? '';
  if (parentId === null) return name;
  if (typeof parentId !== 'string')
    throw new MethodError('invalidProperties', 'parentId must be an id or null', { properties: ['parentId'] });
  const parent = await byId(deps, ctx, parentId);
  return `${parent.name}${SEPARATOR}${name}`;
}

async function byId(deps: MailboxDeps, ctx: CallContext, id: string): Promise<MailboxRecord> {
  const n = idNumber('m', id);
  const box = n === undefined ? undefined : (await deps.mailboxes.list(ctx.accountId)).find((b) => b.id === n);
  if (!box) throw new MethodError('notFound', `no mailbox ${id.slice(0, 40)}`);
  return box;
}

function counted(box: MailboxRecord): Args {
  return { totalEmails: 0, unreadEmails: 0, totalThreads: 0, unreadThreads: 0, myRights: RIGHTS, role: roleOf(box) };
}

function objectArg(args: Args, name: string): Record<string, unknown> {
  const v = args[name] ?? null;
  if (v === null) return {};
  if (!isObject(v)) throw invalid(`${name} must be an object`);
  return v;
}

/** A SetError (RFC 8620 §5.3) for what went wrong with one object. */
export function setError(err: unknown, log: Logger): Args {
  if (err instanceof MethodError) return { type: err.type, description: err.message, ...err.extra };
  if (isMailError(err, 'MAILBOX_EXISTS'))
    return { type: 'invalidProperties', description: err.message, properties: ['name'] };
  if (isMailError(err, 'MAILBOX_NOT_FOUND')) return { type: 'notFound', description: err.message };
  if (isMailError(err, 'OVER_QUOTA')) return { type: 'overQuota', description: err.message };
  if (isMailError(err, 'INVALID_INPUT') || isMailError(err, 'LIMIT_REACHED'))
    return { type: 'invalidProperties', description: err.message };
  if (isMailError(err, 'FORBIDDEN')) return { type: 'forbidden', description: err.message };
  // Anything else fails this object alone: the objects before it were changed, and say so.
  log.error({ err }, 'a JMAP object could not be changed');
  return { type: 'serverFail', description: 'the server could not do this; the log says why' };
}

/** What a /set did (RFC 8620 §5.3), each part null when empty. */
export interface SetOutcome {
  created: Args;
  updated: Args;
  destroyed: string[];
  notCreated: Args;
  notUpdated: Args;
  notDestroyed: Args;
}

/** The /set response: the states and each part of the outcome, null when empty. */
export function setResponse(ctx: CallContext, oldState: string, newState: string, o: SetOutcome): Args {
  return {
    accountId: ctx.jmapAccountId,
    oldState,
    newState,
    created: nullIfEmpty(o.created),
    updated: nullIfEmpty(o.updated),
    destroyed: o.destroyed.length ? o.destroyed : null,
    notCreated: nullIfEmpty(o.notCreated),
    notUpdated: nullIfEmpty(o.notUpdated),
    notDestroyed: nullIfEmpty(o.notDestroyed),
  };
}

export function nullIfEmpty(o: Args): Args | null {
  return Object.keys(o).length ? o : null;
}
