/**
 * Authentication of users (SMTP AUTH, IMAP LOGIN, POP3 …) with brute-force throttling: every failure
 * adds a growing delay, and too many failures from one IP or for one account lock both out for a
 * while (454 4.7.0 / [UNAVAILABLE]). Unknown users cost the same argon2 work as known ones.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeAddress } from '../../mail/address.js';
import type { AccountRecord, Store } from '../../store/index.js';
import { hashPassword, verifyPassword } from './password.js';

export interface AuthedUser {
  accountId: number;
  address: string;
}

export interface AuthThrottle {
  failureDelayMs: number;
  maxFailures: number;
  lockoutMs: number;
}

interface Counter {
  failures: number;
  since: number;
  lockedUntil: number;
}

const MAX_DELAY_STEPS = 8;

export class Auth {
  private readonly counters = new Map<string, Counter>();
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: { store: Store; throttle: AuthThrottle; log: Logger }) {}

  /** Verifies a login; throws AUTH_FAILED (after the delay) or AUTH_LOCKED. */
  async authenticate(username: string, password: string, context: { ip: string; protocol: string }): Promise<AuthedUser> {
    const now = Date.now();
    const check = normalizeAddress(username);
    const userKey = `user:${check.ok ? check.text : username.toLowerCase()}`;
    const ipKey = `ip:${context.ip}`;
    for (const key of [ipKey, userKey]) {
      const c = this.counter(key, now);
      if (c.lockedUntil > now) {
        this.deps.log.warn({ ip: context.ip, user: username, protocol: context.protocol, until: new Date(c.lockedUntil).toISOString() }, 'login refused: locked out');
        throw new MailError('AUTH_LOCKED', 'too many failed logins; try again later');
      }
    }
    let account: AccountRecord | undefined;
    if (check.ok) account = await this.deps.store.accounts.get(check.text);
    const ok = account ? await verifyPassword(account.passwordHash, password) : await this.burn(password);
    if (ok && account?.isEnabled) {
      this.counters.delete(userKey);
      this.counters.delete(ipKey);
      this.deps.log.info({ ip: context.ip, user: account.address, protocol: context.protocol }, 'login');
      return { accountId: account.id, address: account.address };
    }
    const failures = Math.max(this.fail(ipKey, now), this.fail(userKey, now));
    this.deps.log.warn({ ip: context.ip, user: username, protocol: context.protocol, failures, reason: account ? (ok ? 'disabled' : 'password') : 'unknown user' }, 'login failed');
    const delay = this.deps.throttle.failureDelayMs * Math.min(failures, MAX_DELAY_STEPS);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    throw new MailError('AUTH_FAILED', 'authentication failed');
  }

  private counter(key: string, now: number): Counter {
    let c = this.counters.get(key);
    if (!c || (now - c.since > this.deps.throttle.lockoutMs && c.lockedUntil <= now)) {
      c = { failures: 0, since: now, lockedUntil: 0 };
      this.counters.set(key, c);
    }
    return c;
  }

  private fail(key: string, now: number): number {
    const c = this.counter(key, now);
    c.failures++;
    if (c.failures >= this.deps.throttle.maxFailures) c.lockedUntil = now + this.deps.throttle.lockoutMs;
    if (this.counters.size > 100_000) this.prune(now);
    return c.failures;
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (now - c.since > this.deps.throttle.lockoutMs && c.lockedUntil <= now) this.counters.delete(k);
  }

  /** Same cost as a real verification, so timing does not tell which users exist. */
  private async burn(password: string): Promise<false> {
    this.dummyHash ??= hashPassword('postern-timing-equaliser');
    await verifyPassword(await this.dummyHash, password);
    return false;
  }
}
