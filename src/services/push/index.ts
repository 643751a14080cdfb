/**
 * Push subscriptions (JMAP PushSubscription, RFC 8620 §7.2): a client names an https URL, the server
 * POSTs a PushVerification there with a random code, and once the client has set that code on the
 * subscription every change of the account is POSTed there as a StateChange (§7.1), encrypted
 * (RFC 8291) when the client gave keys. The URLs are the client's word: each POST goes through
 * lib/public-https.ts, which refuses this machine and private networks.
 *
 * Sending: one POST in flight per subscription; changes that come meanwhile are sent as one, with the
 * latest state, when it ends. A subscription whose push service answers 404 or 410 (RFC 8030 §7.3:
 * gone), or that failed MAX_FAILURES times in a row, is removed. Subscriptions expire after at most
 * MAX_LIFETIME_MS unless the client extends them; an account makes at most MAX_MADE_PER_HOUR an hour
 * (destroying and making them again would otherwise make the server POST without end).
 */
import { createECDH, randomBytes } from 'node:crypto';
import { encrypt } from 'http_ece';
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import {
  checkDestination,
  checkPushUrl,
  postPublicHttps,
  RefusedDestination,
  type PublicPost,
} from '../../lib/public-https.js';
import type { PushSubscriptionRecord, Store } from '../../store/index.js';

/** The types a StateChange names; the account has one state for all of them. */
export const PUSH_TYPES = ['Mailbox', 'Email', 'Thread', 'EmailDelivery'];
export const MAX_SUBSCRIPTIONS = 20;
export const MAX_LIFETIME_MS = 7 * 24 * 60 * 60_000;
/** Subscriptions an account may make in an hour: each makes the server POST to a URL it names. */
export const MAX_MADE_PER_HOUR = 60;
const MAX_FAILURES = 10;
const POST_TIMEOUT_MS = 10_000;
/** RFC 8030 §5.2: how long a push service keeps a message for an offline device, in seconds. */
const PUSH_TTL = 86_400;

export interface PushInput {
  deviceClientId: string;
  url: string;
  keys: { p256dh: string; auth: string } | null;
  expires: Date | null;
  types: string[] | null;
}

export interface PushDeps {
  store: Pick<Store, 'pushSubscriptions' | 'changes'>;
  /** The account's JMAP state (EmailViews.state). */
  state(accountId: number): Promise<string>;
  log: Logger;
  /** [jmap] push_private_addresses: labs and tests only. */
  allowPrivate: boolean;
  /** Extra CA certificates trusted ([outbound] ca_file). */
  ca: string[];
  /** Host name → addresses; the system resolver by default. */
  resolveHost?: (host: string) => Promise<string[]>;
  /** The POST itself; postPublicHttps by default. */
  post?: (p: PublicPost) => Promise<{ status: number }>;
}

/** A StateChange (RFC 8620 §7.1): every type asked for at the account's one state. */
export function stateChange(accountId: number, types: readonly string[], state: string): Record<string, unknown> {
  return { '@type': 'StateChange', changed: { [`a${accountId}`]: Object.fromEntries(types.map((t) => [t, state])) } };
}

interface Sending {
  record: PushSubscriptionRecord;
  last: string;
  busy: boolean;
  again: boolean;
  failures: number;
}

export class PushSubscriptions {
  /** Per account with verified subscriptions: its change feed subscription and its subscriptions. */
  private readonly watched = new Map<number, { unsubscribe(): void; subs: Map<number, Sending> }>();
  private running = false;
  /** Per account: when its subscriptions of the last hour were made. */
  private readonly made = new Map<number, number[]>();

  constructor(private readonly deps: PushDeps) {}

  /** Starts pushing to the verified subscriptions kept in the store. */
  async start(): Promise<void> {
    this.running = true;
    await this.deps.store.pushSubscriptions.expire(new Date());
    for (const record of await this.deps.store.pushSubscriptions.active(new Date())) this.watch(record);
  }

  stop(): void {
    this.running = false;
    for (const w of this.watched.values()) w.unsubscribe();
    this.watched.clear();
  }

  list(accountId: number, ids?: number[]): Promise<PushSubscriptionRecord[]> {
    return this.deps.store.pushSubscriptions.list(accountId, ids);
  }

  /** Keeps a new subscription and sends its PushVerification (in the background: the client waits for it there). */
  async create(accountId: number, input: PushInput): Promise<PushSubscriptionRecord> {
    const problem = checkPushUrl(input.url);
    if (problem) throw new MailError('INVALID_INPUT', `url ${problem}`);
    // Refused now with a reason the client sees; checked again at each POST (the name may move).
    await checkDestination(new URL(input.url), {
      allowPrivate: this.deps.allowPrivate,
      resolveHost: this.deps.resolveHost,
    }).catch((err: unknown) => {
      throw err instanceof RefusedDestination ? new MailError('INVALID_INPUT', `url: ${err.message}`) : err;
    });
    const hourAgo = Date.now() - 3600_000;
    const recent = (this.made.get(accountId) ?? []).filter((t) => t > hourAgo);
    if (recent.length >= MAX_MADE_PER_HOUR)
      throw new MailError('LIMIT_REACHED', `at most ${MAX_MADE_PER_HOUR} push subscriptions made in an hour`);
    if (input.keys && !validKeys(input.keys))
      throw new MailError(
        'INVALID_INPUT',
        'keys must be a P-256 public key (p256dh) and a 16-byte auth secret, base64url',
      );
    const record = await this.deps.store.pushSubscriptions.add(
      {
        accountId,
        deviceClientId: input.deviceClientId,
        url: input.url,
        keys: input.keys,
        verificationCode: randomBytes(16).toString('base64url'),
        verified: false,
        expires: this.expiry(input.expires),
        types: input.types,
      },
      MAX_SUBSCRIPTIONS,
    );
    if (!record) throw new MailError('LIMIT_REACHED', `at most ${MAX_SUBSCRIPTIONS} push subscriptions per account`);
    this.made.set(accountId, [...recent, Date.now()]);
    const verification = {
      '@type': 'PushVerification',
      pushSubscriptionId: `p${record.id}`,
      verificationCode: record.verificationCode,
    };
    void this.post(record, verification).then(
      (ok) => this.deps.log.info({ account: accountId, subscription: record.id, ok }, 'push verification sent'),
      () => undefined,
    );
    return record;
  }

  /** Sets the verification code (which must be the one sent), the expiry or the types. */
  async update(
    accountId: number,
    id: number,
    patch: { verificationCode?: string; expires?: Date | null; types?: string[] | null },
  ): Promise<PushSubscriptionRecord> {
    const [record] = await this.list(accountId, [id]);
    if (!record) throw new MailError('NOT_FOUND', 'no such push subscription');
    if (patch.verificationCode !== undefined && patch.verificationCode !== record.verificationCode)
      throw new MailError('INVALID_INPUT', 'verificationCode is not the code sent to the url');
    const change = {
      ...(patch.verificationCode !== undefined ? { verified: true } : {}),
      ...(patch.expires !== undefined ? { expires: this.expiry(patch.expires) } : {}),
      ...(patch.types !== undefined ? { types: patch.types } : {}),
    };
    await this.deps.store.pushSubscriptions.update(accountId, id, change);
    const updated = { ...record, ...change };
    this.unwatch(accountId, id);
    if (updated.verified) this.watch(updated);
    return updated;
  }

  async destroy(accountId: number, ids: number[]): Promise<number[]> {
    const removed = await this.deps.store.pushSubscriptions.remove(accountId, ids);
    for (const id of removed) this.unwatch(accountId, id);
    return removed;
  }

  /** Stops pushing to a subscription and forgets it (gone, expired or failing). */
  private async drop(record: PushSubscriptionRecord): Promise<void> {
    this.unwatch(record.accountId, record.id);
    await this.deps.store.pushSubscriptions.remove(record.accountId, [record.id]);
  }

  /** RFC 8620 §7.2: the server may cap the lifetime; a time already past is refused. */
  private expiry(asked: Date | null): Date {
    const cap = new Date(Date.now() + MAX_LIFETIME_MS);
    if (!asked) return cap;
    if (asked.getTime() <= Date.now()) throw new MailError('INVALID_INPUT', 'expires is in the past');
    return asked < cap ? asked : cap;
  }

  private watch(record: PushSubscriptionRecord): void {
    if (!this.running) return;
    let w = this.watched.get(record.accountId);
    if (!w) {
      const subs = new Map<number, Sending>();
      let timer: NodeJS.Immediate | undefined;
      const unsubscribe = this.deps.store.changes.subscribe(record.accountId, () => {
        timer ??= setImmediate(() => {
          timer = undefined;
          void this.changed(record.accountId, subs);
        });
      });
      w = { unsubscribe, subs };
      this.watched.set(record.accountId, w);
    }
    w.subs.set(record.id, { record, last: '', busy: false, again: false, failures: 0 });
  }

  private unwatch(accountId: number, id: number): void {
    const w = this.watched.get(accountId);
    if (!w?.subs.delete(id) || w.subs.size) return;
    w.unsubscribe();
    this.watched.delete(accountId);
  }

  private async changed(accountId: number, subs: Map<number, Sending>): Promise<void> {
    for (const s of subs.values()) {
      if (s.busy) s.again = true;
      else void this.send(accountId, s);
    }
  }

  /** Sends the account's state to one subscription, again while changes came during the POST. */
  private async send(accountId: number, s: Sending): Promise<void> {
    s.busy = true;
    try {
      do {
        s.again = false;
        if (s.record.expires.getTime() <= Date.now()) {
          await this.drop(s.record);
          return;
        }
        const state = await this.deps.state(accountId);
        if (state === s.last) continue;
        const types = (s.record.types ?? PUSH_TYPES).filter((t) => PUSH_TYPES.includes(t));
        if (!types.length) continue;
        s.last = state;
        const ok = await this.post(s.record, stateChange(accountId, types, state));
        s.failures = ok ? 0 : s.failures + 1;
        if (s.failures >= MAX_FAILURES) {
          this.deps.log.warn(
            { account: accountId, subscription: s.record.id },
            'push subscription removed: it kept failing',
          );
          await this.drop(s.record);
          return;
        }
      } while (s.again && this.running);
    } catch (err) {
      this.deps.log.warn({ account: accountId, subscription: s.record.id, err }, 'push failed');
    } finally {
      s.busy = false;
    }
  }

  /** One POST; false when it failed. A push service saying the subscription is gone removes it. */
  private async post(record: PushSubscriptionRecord, payload: Record<string, unknown>): Promise<boolean> {
    const json = Buffer.from(JSON.stringify(payload));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ttl: String(PUSH_TTL),
      urgency: 'normal',
    };
    let body: Buffer = json;
    if (record.keys) {
      body = encryptFor(record.keys, json);
      headers['content-encoding'] = 'aes128gcm';
      headers['content-type'] = 'application/octet-stream';
    }
    const log = { account: record.accountId, subscription: record.id, host: new URL(record.url).host };
    try {
      const { status } = await (this.deps.post ?? postPublicHttps)({
        url: record.url,
        headers,
        body,
        ca: this.deps.ca,
        allowPrivate: this.deps.allowPrivate,
        resolveHost: this.deps.resolveHost,
        timeoutMs: POST_TIMEOUT_MS,
        maxBytes: 4096,
      });
      if (status === 404 || status === 410) {
        this.deps.log.info({ ...log, status }, 'push subscription removed: its push service says it is gone');
        await this.drop(record);
        return false;
      }
      if (status < 200 || status > 299) this.deps.log.warn({ ...log, status }, 'push refused');
      return status >= 200 && status <= 299;
    } catch (err) {
      this.deps.log.warn({ ...log, err: (err as Error).message }, 'push failed');
      return false;
    }
  }
}

function validKeys(keys: { p256dh: string; auth: string }): boolean {
  const b64url = /^[A-Za-z0-9_-]+={0,2}$/;
  if (!b64url.test(keys.p256dh) || !b64url.test(keys.auth)) return false;
  const pub = Buffer.from(keys.p256dh, 'base64url');
  return pub.length === 65 && pub[0] === 4 && Buffer.from(keys.auth, 'base64url').length === 16;
}

/** RFC 8291 message encryption (aes128gcm, RFC 8188) to the client's key, with a fresh key of ours each time. */
function encryptFor(keys: { p256dh: string; auth: string }, payload: Buffer): Buffer {
  const ours = createECDH('prime256v1');
  ours.generateKeys();
  return encrypt(payload, {
    version: 'aes128gcm',
    dh: keys.p256dh,
    privateKey: ours,
    authSecret: keys.auth,
    salt: randomBytes(16),
  });
}
