/**
 * The webmail's way to the server: its sign-in (/mail/api/session, a cookie the browser keeps) and
 * JMAP (RFC 8620/8621) at /jmap with that cookie, the session's CSRF token on every POST, and the
 * event source (RFC 8620 §7.3) for live updates.
 */

import { ApiError } from '../shared/api.js';

/** An answer other than success: the server's detail as the message (the sign-in form reads 401 as "wrong password"). */
export class MailApiError extends ApiError {
  constructor(status: number, message: string) {
    super(status, 'error', message);
  }
}

export interface MailSession {
  address: string;
  csrf: string;
  expiresAt: string;
  idleMinutes: number;
  /** Signed in with the account's password (not an app password): the settings may be changed. */
  settings: boolean;
}

/** A JMAP method call: name, arguments, call id. */
export type Invocation = [string, Record<string, unknown>, string];

let csrf = '';
let accountId = '';
/** Told when the server says the session has ended (the app shows the sign-in again). */
let onSignedOut: () => void = () => undefined;

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export function currentAccountId(): string {
  return accountId;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const problem = (data ?? {}) as { detail?: string };
    if (response.status === 401 && !path.startsWith('/mail/api/session')) onSignedOut();
    throw new MailApiError(response.status, problem.detail ?? response.statusText);
  }
  return data as T;
}

/** The session this browser already has (after a reload), or undefined. */
export async function resumeSession(): Promise<MailSession | undefined> {
  // Both at once: a reload costs one round trip, not two.
  const jmapSession = call<JmapSession>('GET', '/jmap/session').catch(() => undefined);
  try {
    const session = await call<MailSession>('GET', '/mail/api/session');
    return await start(session, await jmapSession);
  } catch (err) {
    if (err instanceof MailApiError && err.status === 401) return undefined;
    throw err;
  }
}

export async function signIn(address: string, password: string): Promise<MailSession> {
  return start(await call<MailSession>('POST', '/mail/api/session', { address, password }));
}

interface JmapSession {
  primaryAccounts: Record<string, string>;
}

async function start(session: MailSession, known?: JmapSession): Promise<MailSession> {
  csrf = session.csrf;
  const jmap = known ?? (await call<JmapSession>('GET', '/jmap/session'));
  accountId = jmap.primaryAccounts['urn:ietf:params:jmap:mail'] ?? '';
  return session;
}

export async function signOut(everywhere: boolean): Promise<void> {
  await call('DELETE', everywhere ? '/mail/api/sessions' : '/mail/api/session');
  csrf = '';
  accountId = '';
}

const USING = [
  'urn:ietf:params:jmap:core',
  'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission',
  'urn:ietf:params:jmap:vacationresponse',
];

/** Runs method calls in one request; a method's error becomes a thrown MailApiError. */
export async function jmap(calls: Invocation[]): Promise<Map<string, Record<string, unknown>>> {
  const answer = await call<{ methodResponses: Invocation[] }>('POST', '/jmap/api', {
    using: USING,
    methodCalls: calls.map(([name, args, id]) => [name, { accountId, ...args }, id]),
  });
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, args, id] of answer.methodResponses) {
    if (name === 'error') throw new MailApiError(400, String(args['description'] ?? args['type']));
    // The first answer of a call id: an implicit Email/set (onSuccessUpdateEmail) follows with the same id.
    if (!out.has(id)) out.set(id, args);
  }
  return out;
}

/** One method's answer. */
export async function jmap1<T>(name: string, args: Record<string, unknown>): Promise<T> {
  return (await jmap([[name, args, '0']])).get('0') as T;
}

/** The download URL of a blob (RFC 8620 §6.2), same origin, carried by the cookie. */
export function downloadUrl(blobId: string, name: string, type: string, inline = false): string {
  const q = new URLSearchParams({ type, name });
  if (inline) q.set('inline', '1');
  return `/jmap/download/${encodeURIComponent(accountId)}/${encodeURIComponent(blobId)}?${q.toString()}`;
}

/** Uploads a file with progress (XMLHttpRequest: fetch tells no upload progress). */
export function upload(
  file: Blob,
  onProgress: (share: number) => void,
): Promise<{ blobId: string; size: number; type: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/jmap/upload/${encodeURIComponent(accountId)}`);
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText) as { blobId: string; size: number; type: string });
      else reject(new MailApiError(xhr.status, 'the upload was refused'));
    };
    xhr.onerror = () => reject(new MailApiError(0, 'the upload failed'));
    xhr.send(file);
  });
}

/** Live updates: calls `changed` whenever the server says the account's state moved on. */
export function watch(changed: () => void): () => void {
  const source = new EventSource('/jmap/eventsource?types=*&closeafter=no&ping=60');
  source.addEventListener('state', () => changed());
  return () => source.close();
}
