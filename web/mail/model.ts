/** What the webmail reads over JMAP (RFC 8621), as far as it reads it, and the calls it makes. */
import { jmap, jmap1, type Invocation } from './jmap.js';

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
}

export interface ListedEmail {
  id: string;
  threadId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  subject: string | null;
  receivedAt: string;
  preview: string;
  hasAttachment: boolean;
  size: number;
}

export interface BodyPart {
  partId: string | null;
  blobId: string | null;
  size: number;
  name: string | null;
  type: string;
  cid: string | null;
  disposition: string | null;
}

export interface FullEmail extends ListedEmail {
  cc: EmailAddress[] | null;
  replyTo: EmailAddress[] | null;
  sentAt: string | null;
  messageId: string[] | null;
  references: string[] | null;
  blobId: string;
  htmlBody: BodyPart[];
  textBody: BodyPart[];
  attachments: BodyPart[];
  bodyValues: Record<string, { value: string; isTruncated: boolean }>;
  'header:Authentication-Results:asText': string | null;
  'header:X-Spam-Status:asText': string | null;
}

export const LIST_PROPERTIES = [
  'id',
  'threadId',
  'mailboxIds',
  'keywords',
  'from',
  'to',
  'subject',
  'receivedAt',
  'preview',
  'hasAttachment',
  'size',
];

const FULL_PROPERTIES = [
  ...LIST_PROPERTIES,
  'cc',
  'replyTo',
  'sentAt',
  'messageId',
  'references',
  'blobId',
  'htmlBody',
  'textBody',
  'attachments',
  'bodyValues',
  'header:Authentication-Results:asText',
  'header:X-Spam-Status:asText',
];

/** The folders in the order people expect: Inbox, the special ones, then the rest by name. */
const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];

export function sortMailboxes(list: Mailbox[]): Mailbox[] {
  const rank = (m: Mailbox) => {
    const i = m.role ? ROLE_ORDER.indexOf(m.role) : -1;
    return i < 0 ? ROLE_ORDER.length : i;
  };
  return [...list].sort((a, b) => rank(a) - rank(b) || a.sortOrder - b.sortOrder || a.name.localeCompare(b.name));
}

export async function loadMailboxes(): Promise<Mailbox[]> {
  const r = await jmap1<{ list: Mailbox[] }>('Mailbox/get', {
    ids: null,
    properties: ['id', 'name', 'parentId', 'role', 'sortOrder', 'totalEmails', 'unreadEmails'],
  });
  return sortMailboxes(r.list);
}

export interface ListQuery {
  mailboxId?: string | undefined;
  /** The advanced search's conditions (RFC 8621 §4.4.1 FilterCondition), ANDed with the folder. */
  filter?: Record<string, unknown> | undefined;
  threads: boolean;
  unreadOnly: boolean;
  flaggedOnly: boolean;
  sort: 'receivedAt' | 'from' | 'subject' | 'size';
  ascending: boolean;
}

/** One page of the list: the emails from `position`, and how many match in all. */
export async function loadPage(
  q: ListQuery,
  position: number,
  limit: number,
): Promise<{ emails: ListedEmail[]; total: number }> {
  const conditions: Record<string, unknown>[] = [];
  if (q.mailboxId) conditions.push({ inMailbox: q.mailboxId });
  if (q.filter) conditions.push(q.filter);
  if (q.unreadOnly) conditions.push({ notKeyword: '$seen' });
  if (q.flaggedOnly) conditions.push({ hasKeyword: '$flagged' });
  const filter = conditions.length === 1 ? conditions[0] : { operator: 'AND', conditions };
  const calls: Invocation[] = [
    [
      'Email/query',
      {
        filter,
        sort: [{ property: q.sort, isAscending: q.ascending }],
        collapseThreads: q.threads,
        position,
        limit,
        calculateTotal: true,
      },
      'q',
    ],
    ['Email/get', { '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: LIST_PROPERTIES }, 'g'],
  ];
  const r = await jmap(calls);
  const total = (r.get('q')?.['total'] as number | undefined) ?? 0;
  const byId = new Map(((r.get('g')?.['list'] as ListedEmail[] | undefined) ?? []).map((e) => [e.id, e]));
  const ids = (r.get('q')?.['ids'] as string[] | undefined) ?? [];
  return { emails: ids.map((id) => byId.get(id)).filter((e): e is ListedEmail => !!e), total };
}

export async function loadEmail(id: string): Promise<FullEmail | undefined> {
  const r = await jmap1<{ list: FullEmail[] }>('Email/get', {
    ids: [id],
    properties: FULL_PROPERTIES,
    fetchAllBodyValues: true,
    maxBodyValueBytes: 2_000_000,
  });
  return r.list[0];
}

/** The emails of a thread, oldest first (RFC 8621 §3). */
export async function loadThread(threadId: string): Promise<ListedEmail[]> {
  const r = await jmap([
    ['Thread/get', { ids: [threadId] }, 't'],
    [
      'Email/get',
      { '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' }, properties: LIST_PROPERTIES },
      'g',
    ],
  ]);
  return (r.get('g')?.['list'] as ListedEmail[] | undefined) ?? [];
}

/** Changes emails' keywords or folders: `patch` is an RFC 8620 §5.3 PatchObject applied to each. */
export async function updateEmails(ids: string[], patch: Record<string, unknown>): Promise<void> {
  if (ids.length === 0) return;
  const update = Object.fromEntries(ids.map((id) => [id, patch]));
  const r = await jmap1<{ notUpdated?: Record<string, { description?: string }> }>('Email/set', { update });
  const failed = Object.values(r.notUpdated ?? {})[0];
  if (failed) throw new Error(failed.description ?? 'the change was refused');
}

/** Moves emails from one folder to another (the other folders they are in stay). */
export function moveEmails(ids: string[], from: string | undefined, to: string): Promise<void> {
  const patch: Record<string, unknown> = { [`mailboxIds/${to}`]: true };
  if (from && from !== to) patch[`mailboxIds/${from}`] = null;
  return updateEmails(ids, patch);
}

export async function destroyEmails(ids: string[]): Promise<void> {
  if (ids.length) await jmap1('Email/set', { destroy: ids });
}

export function addressText(list: EmailAddress[] | null | undefined): string {
  return (list ?? []).map((a) => (a.name ? `${a.name} <${a.email}>` : a.email)).join(', ');
}

export function shortName(list: EmailAddress[] | null | undefined): string {
  const a = list?.[0];
  return a ? a.name || a.email : '(nobody)';
}
