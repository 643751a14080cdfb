/**
 * Webmail sign-in: a browser session of an account, as Roundcube keeps one.
 *
 * - Signing in (the address and its password or an app password) goes through the same throttled
 *   check as every login. The cookie holds `<id>.<secret>`; the store keeps the id, a SHA-256 of the
 *   secret and a CSRF token that every request changing something must carry in X-CSRF-Token (another
 *   site cannot read it). The cookie is Secure, HttpOnly and SameSite=Strict.
 * - A session ends after `[webmail] session_idle` unused (moved on at most once a minute) or
 *   `session_max` after sign-in, at sign-out, or when the account signs out everywhere.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { appPasswordHash } from '../../lib/secret.js';
import type { Store } from '../../store/index.js';

export interface MailSessionsDeps {
  store: Store;
  /** The throttled account login (Auth.authenticate: password or app password). */
  authenticate(
    user: string,
    password: string,
    context: { ip: string; protocol: string },
  ): Promise<{ accountId: number; address: string }>;
  idleMs: number;
  maxMs: number;
  log: Logger;
}

/** What the web app is told of its session. */
export interface MailSessionView {
  address: string;
  csrf: string;
  expiresAt: string;
  idleMinutes: number;
  /** Signed in with the account's password: its settings may be changed (not with an app password). */
  settings: boolean;
}

export interface ResumedMailSession {
  accountId: number;
  address: string;
  csrf: string;
  settings: boolean;
}

/** The cookie the webmail's session is kept in. */
export const WEBMAIL_COOKIE = 'postern_mail';

const COOKIE_VALUE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** An idle end is written at most this often. */
const TOUCH_EVERY_MS = 60_000;

export class MailSessions {
  constructor(private readonly deps: MailSessionsDeps) {}

  /** A new session: the cookie value to set (only here) and what the app needs. */
  async signIn(
    input: { address: string; password: string },
    remote: string | null,
  ): Promise<{ cookie: string; session: MailSessionView }> {
    const who = await this.deps.authenticate(input.address, input.password, { ip: remote ?? '', protocol: 'webmail' });
    // An app password opens the mail, not the account's settings (as the API's /me takes only the password).
    const settings = !(await this.deps.store.appPasswords.find(who.accountId, appPasswordHash(input.password)));
    const id = randomBytes(16).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.deps.maxMs);
    await this.deps.store.mailSessions.removeExpired(now);
    await this.deps.store.mailSessions.add({
      id,
      secretHash: sha256(secret),
      accountId: who.accountId,
      csrf,
      createdAt: now,
      expiresAt,
      idleUntil: new Date(now.getTime() + this.deps.idleMs),
      settings,
    });
    this.deps.log.info({ account: who.address, ip: remote, session: id }, 'webmail session started');
    return { cookie: `${id}.${secret}`, session: this.view(who.address, csrf, expiresAt, settings) };
  }

  /** The account a session cookie stands for; undefined when unknown, expired or idle too long. */
  async resume(cookie: string): Promise<ResumedMailSession | undefined> {
    const m = COOKIE_VALUE.exec(cookie);
    if (!m) return undefined;
    const record = await this.deps.store.mailSessions.get(m[1]!);
    const now = Date.now();
    if (!record || record.expiresAt.getTime() <= now || record.idleUntil.getTime() <= now) return undefined;
    if (!timingSafeEqual(Buffer.from(sha256(m[2]!), 'hex'), Buffer.from(record.secretHash, 'hex'))) return undefined;
    const account = await this.deps.store.accounts.byId(record.accountId);
    if (!account || !account.isEnabled) return undefined;
    if (record.idleUntil.getTime() - now < this.deps.idleMs - TOUCH_EVERY_MS)
      await this.deps.store.mailSessions.touch(record.id, new Date(now + this.deps.idleMs));
    return { accountId: account.id, address: account.address, csrf: record.csrf, settings: record.settings };
  }

  /** The session as the app sees it (GET /mail/api/session). */
  async describe(cookie: string): Promise<MailSessionView | undefined> {
    const resumed = await this.resume(cookie);
    if (!resumed) return undefined;
    const record = await this.deps.store.mailSessions.get(COOKIE_VALUE.exec(cookie)![1]!);
    return record && this.view(resumed.address, resumed.csrf, record.expiresAt, record.settings);
  }

  async signOut(cookie: string): Promise<void> {
    const m = COOKIE_VALUE.exec(cookie);
    if (m) await this.deps.store.mailSessions.remove(m[1]!);
  }

  /** Ends every webmail session of the account (this one included). */
  async signOutEverywhere(accountId: number): Promise<number> {
    const n = await this.deps.store.mailSessions.removeAccount(accountId);
    this.deps.log.info({ accountId, sessions: n }, 'webmail signed out everywhere');
    return n;
  }

  private view(address: string, csrf: string, expiresAt: Date, settings: boolean): MailSessionView {
    const idleMinutes = Math.round(this.deps.idleMs / 60_000);
    return { address, csrf, expiresAt: expiresAt.toISOString(), idleMinutes, settings };
  }
}
