/**
 * Authentication of users (SMTP AUTH, IMAP LOGIN, POP3, ManageSieve) with brute-force throttling in
 * the manner of Postfix's anvil and Dovecot's auth penalty: what is slowed down and then refused is
 * the attacker's source (an IPv4 address, or an IPv6 prefix, /64 by default), never the victim's
 * account, so nobody can lock a user out by guessing at their password.
 *
 * - Each failure adds a growing delay to the failed answer; failures for one account slow the
 *   failed answers for that account from every source, but its correct password always works from
 *   a source that is not locked out. A locked-out source is refused even the correct password: the
 *   source is locked, never the account.
 * - After `maxFailures` failures within `lockoutMs` a source is refused (AUTH_LOCKED) for `lockoutMs`.
 * - Attempts still being verified count as failures until they succeed, so parallel guesses cannot
 *   exceed `maxFailures`: an attempt over the bound waits for those in flight to finish.
 * - A successful login does not clear its source's failures (an attacker holding one account could
 *   otherwise reset the count between guesses at others); they expire with the window.
 * - Password hashing (argon2id) runs on Node's thread pool, which file I/O shares: at most a few
 *   verifications run at once, the rest wait their turn.
 * - Unknown users cost the same argon2 work as known ones; names and passwords longer than any stored
 *   one are refused unverified. State is bounded: counters are keyed by a hash of the name, and the
 *   oldest are dropped when there are too many.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { normalizeAddress } from '../../mail/address.js';
import type { AccountRecord, AdminRecord, Store } from '../../store/index.js';
import { appPasswordHash, parseAppPasswordToken } from '../../lib/secret.js';
import { verifyTotp } from '../../lib/totp.js';
import { hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from './password.js';
import { sourceKey } from '../../lib/ip.js';

export interface AuthedUser {
  accountId: number;
  address: string;
}

export interface AuthThrottle {
  failureDelayMs: number;
  maxFailures: number;
  lockoutMs: number;
  /** IPv6 sources are counted per prefix of this length (default 64). */
  ipv6Prefix?: number;
}

interface Counter {
  failures: number;
  since: number;
  lockedUntil: number;
  inFlight: number;
  /** Attempts waiting for those in flight to finish. */
  waiting: Array<() => void>;
}

const MAX_DELAY_STEPS = 8;
/** RFC 4616 §2 bounds SASL names to 255 octets; no address is longer (RFC 5321 §4.5.3.1.3: 254). */
export const MAX_USERNAME_BYTES = 255;
/** Counters kept per map; past it the oldest are dropped (an attacker cycling names or prefixes). */
const MAX_COUNTERS = 100_000;
/** argon2 verifications at once: the libuv pool has 4 threads, and file reads and writes need some. */
const MAX_CONCURRENT_VERIFICATIONS = Math.max(1, Math.min(availableParallelism(), 3));

export class Auth {
  private readonly sources = new Map<string, Counter>();
  private readonly users = new Map<string, Counter>();
  private dummyHash: Promise<string> | undefined;
  private verifying = 0;
  private readonly verifyQueue: Array<() => void> = [];

  constructor(private readonly deps: { store: Store; throttle: AuthThrottle; log: Logger }) {}

  /** Verifies a login; throws AUTH_FAILED (after the delay) or AUTH_LOCKED (the source is refused for a while). */
  async authenticate(
    username: string,
    password: string,
    context: { ip: string; protocol: string },
    options: { appPasswords?: boolean } = {},
  ): Promise<AuthedUser> {
    // An app password is a random secret the server made: a SHA-256 finds it, no argon2 needed.
    const appPassword =
      options.appPasswords === false
        ? undefined
        : async (account: AccountRecord) =>
            (await this.deps.store.appPasswords.find(account.id, appPasswordHash(password))) !== undefined;
    const account = await this.attempt(
      username,
      password,
      context,
      (address) => this.deps.store.accounts.get(address),
      appPassword,
    );
    return { accountId: account.id, address: account.address };
  }

  /**
   * A bearer token made of an app password (lib/secret.ts appPasswordToken): throttled as a login of
   * the account it belongs to; only that app password is tried, not the account's password.
   */
  async authenticateBearer(token: string, context: { ip: string; protocol: string }): Promise<AuthedUser> {
    const parsed = parseAppPasswordToken(token);
    const record = parsed ? await this.deps.store.appPasswords.byId(parsed.id) : undefined;
    const account = record ? await this.deps.store.accounts.byId(record.accountId) : undefined;
    const user = await this.attempt(
      account?.address ?? 'unknown@bearer.invalid',
      parsed?.password ?? '-',
      context,
      (address) => this.deps.store.accounts.get(address),
      async (a) =>
        record !== undefined && a.id === record.accountId && appPasswordHash(parsed!.password) === record.secretHash,
      undefined,
      false,
    );
    return { accountId: user.id, address: user.address };
  }

  /**
   * An admin's login (the admin API), counted against the same sources as the mail logins: a source
   * guessing at admins and mailboxes alike is locked out once, for both. An admin with two-factor
   * login on must give the current TOTP code too; a wrong or missing code is a failed login.
   */
  authenticateAdmin(
    username: string,
    password: string,
    context: { ip: string; protocol: string },
    options: { totp?: string } = {},
  ): Promise<AdminRecord> {
    return this.attempt(
      username,
      password,
      context,
      async (address) => {
        const admin = await this.deps.store.admins.get(address);
        return admin && { ...admin, isEnabled: true };
      },
      undefined,
      (admin) => admin.totpSecret === null || verifyTotp(admin.totpSecret, options.totp ?? ''),
    );
  }

  private async attempt<T extends { address: string; passwordHash: string; isEnabled: boolean }>(
    username: string,
    password: string,
    context: { ip: string; protocol: string },
    find: (address: string) => Promise<T | undefined>,
    alternative?: (record: T) => Promise<boolean>,
    /** A second factor: checked once the password is right; false makes it a failed login. */
    confirm?: (record: T) => boolean,
    /** False: the record's own password is not tried, only `alternative` (a bearer token). */
    tryPassword = true,
  ): Promise<T> {
    const { maxFailures } = this.deps.throttle;
    const source = sourceKey(context.ip, this.deps.throttle.ipv6Prefix ?? 64);
    const shownUser = printable(username);
    const src = this.counter(this.sources, source, Date.now());
    for (;;) {
      const now = Date.now();
      if (src.lockedUntil > now) {
        this.deps.log.warn(
          {
            ip: context.ip,
            source,
            user: shownUser,
            protocol: context.protocol,
            until: new Date(src.lockedUntil).toISOString(),
          },
          'login refused: locked out',
        );
        throw new MailError('AUTH_LOCKED', 'too many failed logins; try again later');
      }
      // Attempts in flight count as failures until they succeed: wait for them rather than verify more.
      if (src.failures + src.inFlight < maxFailures || src.inFlight === 0) break;
      await new Promise<void>((resolve) => src.waiting.push(resolve));
    }
    if (src.failures >= maxFailures) return this.refuse(src, context, source, shownUser);

    const check = Buffer.byteLength(username) <= MAX_USERNAME_BYTES ? normalizeAddress(username) : undefined;
    const userKey = hashKey(check?.ok ? check.text : username.toLowerCase());
    const isPlausible = check !== undefined && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES && password.length > 0;
    src.inFlight++;
    let account: T | undefined;
    let ok = false;
    try {
      if (isPlausible && check.ok) account = await find(check.text);
      ok = isPlausible && tryPassword ? await this.verify(account?.passwordHash, password) : false;
      if (!ok && account && alternative) ok = await alternative(account);
      if (ok && account && confirm && !confirm(account)) ok = false;
    } catch (err) {
      src.inFlight--;
      this.wake(src); // the attempts waiting on this one go on; it counts as nothing
      throw err;
    }
    src.inFlight--;
    if (ok && account?.isEnabled) {
      this.users.delete(userKey);
      this.wake(src);
      this.deps.log.info({ ip: context.ip, user: account.address, protocol: context.protocol }, 'login');
      return account;
    }
    const now = Date.now();
    src.failures++;
    if (src.failures >= maxFailures) src.lockedUntil = now + this.deps.throttle.lockoutMs;
    const user = this.counter(this.users, userKey, now);
    user.failures++;
    this.wake(src);
    const failures = Math.max(src.failures, user.failures);
    const reason = !isPlausible ? 'too long or empty' : account ? (ok ? 'disabled' : 'password') : 'unknown user';
    this.deps.log.warn(
      {
        ip: context.ip,
        user: shownUser,
        protocol: context.protocol,
        failures: src.failures,
        accountFailures: user.failures,
        reason,
      },
      'login failed',
    );
    if (user.failures === maxFailures)
      this.deps.log.warn(
        { user: shownUser, failures: user.failures },
        'many failed logins for one account: failed attempts are slowed down',
      );
    const delay = this.deps.throttle.failureDelayMs * Math.min(failures, MAX_DELAY_STEPS);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    throw new MailError('AUTH_FAILED', 'authentication failed');
  }

  private refuse(src: Counter, context: { ip: string; protocol: string }, source: string, shownUser: string): never {
    src.lockedUntil = Math.max(src.lockedUntil, Date.now() + this.deps.throttle.lockoutMs);
    this.deps.log.warn(
      { ip: context.ip, source, user: shownUser, protocol: context.protocol },
      'login refused: locked out',
    );
    throw new MailError('AUTH_LOCKED', 'too many failed logins; try again later');
  }

  /** Tells waiting attempts of a source that one in flight has finished. */
  private wake(c: Counter): void {
    const waiting = c.waiting.splice(0);
    for (const w of waiting) w();
  }

  private counter(map: Map<string, Counter>, key: string, now: number): Counter {
    let c = map.get(key);
    if (
      c &&
      now - c.since > this.deps.throttle.lockoutMs &&
      c.lockedUntil <= now &&
      c.inFlight === 0 &&
      c.waiting.length === 0
    ) {
      map.delete(key);
      c = undefined;
    }
    if (!c) {
      if (map.size >= MAX_COUNTERS) this.prune(map, now);
      c = { failures: 0, since: now, lockedUntil: 0, inFlight: 0, waiting: [] };
      map.set(key, c);
    }
    return c;
  }

  /** Drops expired counters; if that is not enough, the oldest idle ones (Map order is insertion order). */
  private prune(map: Map<string, Counter>, now: number): void {
    const isIdle = (c: Counter) => c.inFlight === 0 && c.waiting.length === 0;
    for (const [k, c] of map)
      if (now - c.since > this.deps.throttle.lockoutMs && c.lockedUntil <= now && isIdle(c)) map.delete(k);
    for (const [k, c] of map) {
      if (map.size < MAX_COUNTERS * 0.9) break;
      if (isIdle(c)) map.delete(k);
    }
  }

  /** argon2 verification, a few at a time; an unknown user costs the same as a known one. */
  private async verify(hash: string | undefined, password: string): Promise<boolean> {
    // A finished verification hands its slot to the next waiting one.
    if (this.verifying >= MAX_CONCURRENT_VERIFICATIONS)
      await new Promise<void>((resolve) => this.verifyQueue.push(resolve));
    else this.verifying++;
    try {
      if (hash) return await verifyPassword(hash, password);
      this.dummyHash ??= hashPassword('postern-timing-equaliser');
      await verifyPassword(await this.dummyHash, password);
      return false;
    } finally {
      const next = this.verifyQueue.shift();
      if (next) next();
      else this.verifying--;
    }
  }
}

/** A fixed-size key for a user name, however long the name. */
function hashKey(name: string): string {
  return createHash('sha256').update(name).digest('base64url').slice(0, 22);
}

/** A user name as logged: printable, at most 64 characters. */
function printable(name: string): string {
  const clean = name.slice(0, 65).replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
