/**
 * Browser sessions for admins (the admin UI), and their two-factor login.
 *
 * - A login (address, password, and the TOTP code when two-factor is on) goes through the same
 *   throttled check as every login, then makes a session: the cookie holds `<id>.<secret>`, the store
 *   the id, a SHA-256 of the secret and a CSRF token. The cookie is Secure, HttpOnly and
 *   SameSite=Strict; every request that changes something must also carry the CSRF token in a header
 *   (the API refuses it otherwise), which another site cannot read.
 * - Two-factor (RFC 6238 TOTP): an admin starts enrolment (a new secret and its otpauth:// URI to
 *   scan), confirms it with a code, and may turn it off with a code. With it on, HTTP Basic is refused
 *   for that admin (it cannot carry the code): the UI's session or an API token is the way in.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { newTotpSecret, totpUri, verifyTotp } from '../../lib/totp.js';
import type { AdminRecord, Store } from '../../store/index.js';
import { adminPrincipal, type Principal } from './access.js';
import { writeAudit } from './audit.js';

export interface AdminSessionsDeps {
  store: Store;
  /** The throttled admin login (Auth.authenticateAdmin). */
  authenticate(
    user: string,
    password: string,
    context: { ip: string; protocol: string },
    options: { totp?: string },
  ): Promise<AdminRecord>;
  lifetimeMs: number;
  hostname: string;
  log: Logger;
}

/** Admin browser sessions last this long. */
export const SESSION_LIFETIME_MS = 12 * 3600_000;

const COOKIE_VALUE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface SessionView {
  admin: string;
  role: 'superadmin' | 'domain';
  domains: string[];
  totp: boolean;
  csrf: string;
  expiresAt: string;
}

const view = (admin: AdminRecord, csrf: string, expiresAt: Date): SessionView => ({
  admin: admin.address,
  role: admin.isSuper ? 'superadmin' : 'domain',
  domains: admin.domains,
  totp: admin.totpSecret !== null,
  csrf,
  expiresAt: expiresAt.toISOString(),
});

export class AdminSessions {
  constructor(private readonly deps: AdminSessionsDeps) {}

  /** A new session: the cookie value to set (only here) and what the UI needs. */
  async login(
    input: { address: string; password: string; totp?: string },
    remote: string | null,
  ): Promise<{ cookie: string; session: SessionView }> {
    const admin = await this.deps.authenticate(
      input.address,
      input.password,
      { ip: remote ?? '', protocol: 'https' },
      input.totp === undefined ? {} : { totp: input.totp },
    );
    const id = randomBytes(16).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.deps.lifetimeMs);
    await this.deps.store.adminSessions.removeExpired(now);
    await this.deps.store.adminSessions.add({
      id,
      secretHash: sha256(secret),
      admin: admin.address,
      csrf,
      createdAt: now,
      expiresAt,
    });
    this.deps.log.info({ admin: admin.address, ip: remote }, 'admin session started');
    return { cookie: `${id}.${secret}`, session: view(admin, csrf, expiresAt) };
  }

  /** The caller a session cookie stands for, with its CSRF token; undefined when unknown or expired. */
  async resume(
    cookie: string,
    remote: string | null,
  ): Promise<{ principal: Principal; session: SessionView } | undefined> {
    const m = COOKIE_VALUE.exec(cookie);
    if (!m) return undefined;
    const record = await this.deps.store.adminSessions.get(m[1]!);
    if (!record || record.expiresAt.getTime() <= Date.now()) return undefined;
    if (!timingSafeEqual(Buffer.from(sha256(m[2]!), 'hex'), Buffer.from(record.secretHash, 'hex'))) return undefined;
    const admin = await this.deps.store.admins.get(record.admin);
    if (!admin) return undefined;
    return {
      principal: adminPrincipal(admin, { via: 'ui', remote }),
      session: view(admin, record.csrf, record.expiresAt),
    };
  }

  async logout(cookie: string): Promise<void> {
    const m = COOKIE_VALUE.exec(cookie);
    if (m) await this.deps.store.adminSessions.remove(m[1]!);
  }

  /** Starts two-factor enrolment for the calling admin: a new secret, active once confirmed. */
  async startTotp(p: Principal): Promise<{ secret: string; uri: string }> {
    const admin = await this.self(p);
    const secret = newTotpSecret();
    await this.deps.store.admins.setTotp(admin.address, { secret: admin.totpSecret, pending: secret });
    return { secret, uri: totpUri(`Postern ${this.deps.hostname}`, admin.address, secret) };
  }

  async confirmTotp(p: Principal, code: string): Promise<void> {
    const admin = await this.self(p);
    if (!admin.totpPending) throw new MailError('INVALID_INPUT', 'start two-factor enrolment first (POST /totp)');
    if (!verifyTotp(admin.totpPending, code))
      throw new MailError('INVALID_INPUT', 'that code is not the current one of the new secret; check the phone clock');
    await this.deps.store.admins.setTotp(admin.address, { secret: admin.totpPending, pending: null });
    await writeAudit(this.deps.store, p, { action: 'admin.totp.on', target: admin.address, domain: null });
  }

  async disableTotp(p: Principal, code: string): Promise<void> {
    const admin = await this.self(p);
    if (!admin.totpSecret) throw new MailError('INVALID_INPUT', 'two-factor login is not on');
    if (!verifyTotp(admin.totpSecret, code)) throw new MailError('INVALID_INPUT', 'that code is not the current one');
    await this.deps.store.admins.setTotp(admin.address, { secret: null, pending: null });
    await writeAudit(this.deps.store, p, { action: 'admin.totp.off', target: admin.address, domain: null });
  }

  private async self(p: Principal): Promise<AdminRecord> {
    if (p.kind !== 'admin' || p.tokenId !== undefined)
      throw new MailError('FORBIDDEN', 'two-factor login is set by the admin in person, not with a token');
    const admin = await this.deps.store.admins.get(p.actor);
    if (!admin) throw new MailError('NOT_FOUND', `admin ${p.actor} does not exist`);
    return admin;
  }
}
