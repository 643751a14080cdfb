/**
 * Outbound delivery: recipients queued in the store are claimed with a lease (so several processes
 * sharing one store never send the same one), grouped by destination, and sent over reused
 * connections, a few per destination. Every outcome is recorded durably before the connection moves
 * on to the next message: once a remote 250 is on disk, a crash never sends that recipient again.
 * Temporary failures wait (doubling from retry_min to retry_max) until the lifetime ends; failures
 * and expiry bounce to the sender with an RFC 3464 report, a delay warning comes after delay_warning.
 * The retry schedule is retry.ts, the reports to the sender notify.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { rootCertificates } from 'node:tls';
import mxConnect, { type MxConnection } from 'mx-connect';
import { verifyCertAgainstTlsa } from 'mx-connect/lib/dane.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { RelayTarget } from '../../config/schema.js';
import { isLoopbackHost } from '../../lib/ip.js';
import type { TlsaRecord } from '../../mail/dns/tlsa.js';
import type { QueueEntry, QueueOutcome, QueueRecipient } from '../../store/index.js';
import type { MtaStsPolicy } from './mta-sts.js';
import { SenderNotices } from './notify.js';
import type { OutboundDeps, OutboundOptions } from './options.js';
import { expiredOutcomes, isExpired, outcomesOf, type AttemptResult } from './retry.js';

export type { OutboundDeps, OutboundOptions } from './options.js';

interface Job {
  entry: QueueEntry;
  recipients: QueueRecipient[];
  domain: string;
}

/** A failure that applies to every recipient of a job (connection, TLS policy, DNS). */
class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly remoteMta: string | null = null,
  ) {
    super(message);
  }
}

const CLAIM_BATCH = 500;
const TICK_MS = 1000;
const SWEEP_MS = 10 * 60_000; // finished entries a dead process left behind

export class Outbound {
  private readonly owner = `${osHostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly pending = new Map<string, Job[]>();
  private readonly workers = new Map<string, number>();
  private connections = 0;
  private queuedJobs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopping = false;
  private readonly idle = new Set<() => void>();
  /** Open connections, closed at once when shutdown's grace period is over. */
  private readonly sessions = new Set<Session>();
  /** Connections still being set up (greeting, STARTTLS, login): cut off at shutdown too. */
  private readonly opening = new Set<() => void>();
  private readonly notices: SenderNotices;

  constructor(
    private readonly options: OutboundOptions,
    private readonly deps: OutboundDeps,
  ) {
    this.notices = new SenderNotices(options, deps);
  }

  start(): void {
    // Entries whose last recipient was recorded by a process that died before removing them.
    const sweep = () =>
      void this.deps.store.queue.removeAllDone().then(
        (n) => {
          if (n > 0) this.deps.log.info({ entries: n }, 'removed finished queue entries left by an interrupted run');
        },
        () => undefined,
      );
    sweep();
    this.sweepTimer = setInterval(sweep, SWEEP_MS);
    this.sweepTimer.unref();
    this.tickTimer = setInterval(() => this.wake(), TICK_MS);
    this.tickTimer.unref();
    this.leaseTimer = setInterval(
      () => {
        if (this.queuedJobs + this.connections > 0)
          void this.deps.store.queue
            .renewLeases(this.owner, new Date(Date.now() + this.options.leaseMs))
            .catch(() => undefined);
      },
      Math.max(1000, this.options.leaseMs / 3),
    );
    this.leaseTimer.unref();
    this.wake();
  }

  /** Looks for due work now (called when something was queued). */
  wake(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /**
   * Stops claiming work and gives deliveries in flight `graceMs` to finish; then their connections
   * are closed (a delivery cut off is recorded as deferred and retried after the restart; a remote
   * 250 already recorded is never sent again). Leases are released so another process may go on.
   */
  async stop(graceMs = 0): Promise<void> {
    this.stopping = true;
    clearInterval(this.tickTimer);
    clearInterval(this.leaseTimer);
    clearInterval(this.sweepTimer);
    for (const jobs of this.pending.values()) jobs.length = 0;
    this.queuedJobs = 0;
    if (this.connections > 0) {
      const idle = new Promise<void>((resolve) => this.idle.add(resolve));
      if (!(await within(idle, graceMs))) {
        this.deps.log.warn(
          { connections: this.connections, graceMs },
          'closing outbound connections still delivering at shutdown; their mail stays queued',
        );
        for (const session of this.sessions) session.abort();
        for (const abort of this.opening) abort();
        await within(idle, ABORT_WAIT_MS);
      }
    }
    await this.deps.store.queue.releaseLeases(this.owner).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const room = CLAIM_BATCH - this.queuedJobs;
    if (room <= 0) return;
    let entries: QueueEntry[];
    try {
      entries = await this.deps.store.queue.claim(this.owner, {
        now: new Date(),
        leaseMs: this.options.leaseMs,
        limit: room,
      });
    } catch (err) {
      this.deps.log.error({ err: String(err) }, 'queue claim failed');
      return;
    }
    for (const entry of entries) {
      if (isExpired(entry, this.options.lifetimeMs)) {
        await this.finish(entry, expiredOutcomes(entry, this.options.lifetimeMs));
        continue;
      }
      const byDomain = new Map<string, QueueRecipient[]>();
      for (const r of entry.recipients) {
        const domain = r.recipient.slice(r.recipient.lastIndexOf('@') + 1).toLowerCase();
        let list = byDomain.get(domain);
        if (!list) byDomain.set(domain, (list = []));
        list.push(r);
      }
      for (const [domain, recipients] of byDomain) {
        // RFC 3461: recipients with different NOTIFY/ORCPT go in separate transactions.
        const groups = new Map<string, QueueRecipient[]>();
        for (const r of recipients) {
          const key = r.notify || r.orcpt ? `${r.notify}|${r.orcpt}` : '';
          let g = groups.get(key);
          if (!g) groups.set(key, (g = []));
          g.push(r);
        }
        for (const group of groups.values()) this.enqueue({ entry, recipients: group, domain });
      }
    }
    this.pump();
  }

  private routeKey(job: Job): string {
    const relay = this.relayFor(job.entry.sender);
    return relay ? `relay:${relay.host}:${relay.port}` : job.domain;
  }

  private relayFor(sender: string): RelayTarget | undefined {
    const domain = sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
    return (sender && this.options.senderSmarthost[domain]) || this.options.smarthost;
  }

  private enqueue(job: Job): void {
    const key = this.routeKey(job);
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = []));
    list.push(job);
    this.queuedJobs++;
  }

  private pump(): void {
    for (const [key, jobs] of this.pending) {
      while (
        jobs.length > 0 &&
        (this.workers.get(key) ?? 0) <
          Math.min(this.options.connectionsPerDomain, jobs.length + (this.workers.get(key) ?? 0)) &&
        this.connections < this.options.maxConnections
      ) {
        this.workers.set(key, (this.workers.get(key) ?? 0) + 1);
        this.connections++;
        void this.worker(key).finally(() => {
          this.connections--;
          const n = (this.workers.get(key) ?? 1) - 1;
          if (n === 0) this.workers.delete(key);
          else this.workers.set(key, n);
          if (this.pending.get(key)?.length === 0 && !this.workers.has(key)) this.pending.delete(key);
          if (this.connections === 0) for (const done of this.idle) done();
          if (!this.stopping) this.pump();
        });
        if (jobs.length === 0) break;
      }
    }
  }

  private take(key: string): Job | undefined {
    const job = this.pending.get(key)?.shift();
    if (job) this.queuedJobs--;
    // Keep work coming: claim the next batch before this one runs dry.
    if (this.queuedJobs < CLAIM_BATCH / 2 && !this.stopping) this.wake();
    return job;
  }

  /** One connection to a destination: opened for the first job, reused for the next ones. */
  private async worker(key: string): Promise<void> {
    let job = this.take(key);
    if (!job) return;
    let session: Session | undefined;
    try {
      session = await this.open(job);
    } catch (err) {
      const error = err instanceof DeliveryError ? err : new DeliveryError(describe(err), false);
      // The destination is unreachable: everything waiting for it waits again (as Postfix's dead-site logic).
      const jobs = [job];
      if (!error.permanent) for (let next = this.take(key); next; next = this.take(key)) jobs.push(next);
      for (const j of jobs)
        await this.settle(
          j,
          j.recipients.map((r) => ({
            recipient: r,
            code: error.permanent ? 550 : 451,
            reply: error.message,
            remoteMta: error.remoteMta,
          })),
        );
      return;
    }
    this.sessions.add(session);
    try {
      for (
        let sent = 0;
        job && sent < this.options.messagesPerConnection && !session.broken && !this.stopping;
        sent++
      ) {
        await this.sendOne(session, job);
        job = sent + 1 < this.options.messagesPerConnection ? this.take(key) : undefined;
      }
      if (job) {
        // Not sent on this connection (it broke or reached its message limit): back in line.
        this.pending.get(key)?.unshift(job) ?? this.pending.set(key, [job]);
        this.queuedJobs++;
      }
    } finally {
      this.sessions.delete(session);
      if (this.stopping)
        session.abort(); // no QUIT to wait on at shutdown
      else session.close();
    }
  }

  private async sendOne(session: Session, job: Job): Promise<void> {
    const content = await this.deps.store.blobs.get(job.entry.blobHash);
    const [first] = job.recipients;
    const dsn =
      first && (first.notify || first.orcpt || job.entry.ret || job.entry.envid)
        ? {
            ret: job.entry.ret ?? undefined,
            envid: job.entry.envid ?? undefined,
            notify: first.notify ?? undefined,
            orcpt: first.orcpt ?? undefined,
          }
        : undefined;
    const result = await session.send(
      { from: job.entry.sender, to: job.recipients.map((r) => r.recipient), ...(dsn ? { dsn } : {}) },
      content,
    );
    const outcomes = job.recipients.map((r) => {
      const rejected = result.rejected.get(r.recipient.toLowerCase());
      if (rejected) return { recipient: r, code: rejected.code, reply: rejected.reply, remoteMta: session.remoteMta };
      if (result.accepted) return { recipient: r, code: 250, reply: result.reply, remoteMta: session.remoteMta };
      return { recipient: r, code: result.code, reply: result.reply, remoteMta: session.remoteMta };
    });
    await this.settle(job, outcomes);
  }

  /** Records the outcome of one attempt durably, then bounces/warns and removes finished entries. */
  private async settle(job: Job, results: AttemptResult[]): Promise<void> {
    const outcomes = outcomesOf(results, job.entry, Date.now(), this.options);
    for (const { recipient: r, code, reply, remoteMta } of results) {
      this.deps.log[code < 300 ? 'info' : 'warn'](
        {
          qid: job.entry.qid,
          to: r.recipient,
          relay: remoteMta,
          status: code < 300 ? 'sent' : code >= 500 ? 'bounced' : 'deferred',
          reply: reply.slice(0, 300),
        },
        'outbound',
      );
    }
    await this.finish(
      job.entry,
      outcomes,
      results.map((x) => x.recipient),
    );
  }

  private async finish(
    entry: QueueEntry,
    outcomes: QueueOutcome[],
    recipients: QueueRecipient[] = entry.recipients,
  ): Promise<void> {
    try {
      await this.deps.store.queue.record(outcomes);
      await this.notices.afterOutcomes(entry, outcomes, recipients);
      await this.deps.store.queue.removeIfDone(entry.qid);
    } catch (err) {
      this.deps.log.error({ qid: entry.qid, err: String(err) }, 'recording a delivery outcome failed');
    }
  }

  // --- connections -------------------------------------------------------------------------

  private async open(job: Job): Promise<Session> {
    const relay = this.relayFor(job.entry.sender);
    if (relay) return this.openRelay(relay);
    return this.openMx(job.domain);
  }

  private common() {
    return {
      name: this.options.heloName,
      connectionTimeout: this.options.connectTimeoutMs,
      greetingTimeout: this.options.commandTimeoutMs,
      socketTimeout: this.options.commandTimeoutMs,
      ...(this.options.sourceAddress ? { localAddress: this.options.sourceAddress } : {}),
    };
  }

  /**
   * A connection to the smarthost with its TLS policy: implicit TLS (smtps://), STARTTLS required,
   * STARTTLS when the relay offers it, or none. A relay that does not offer STARTTLS where it is
   * required is a temporary failure that says so, and no password is sent to it.
   */
  private async openRelay(relay: RelayTarget): Promise<Session> {
    const conn = new SMTPConnection({
      ...this.common(),
      host: relay.host,
      port: relay.port,
      secure: relay.tls === 'implicit',
      ...(relay.tls === 'none' ? { ignoreTLS: true } : relay.tls === 'implicit' ? {} : { opportunisticTLS: true }),
      // "may" is opportunistic, as Postfix's smtp_tls_security_level = may: encrypted when offered,
      // the certificate unchecked; "required" and smtps:// check it, and so does a relay off loopback
      // that is sent a password (to whoever answered in its place, it would be given away).
      tls: {
        servername: relay.host,
        rejectUnauthorized: relay.tls !== 'may' || (relay.user !== undefined && !isLoopbackHost(relay.host)),
        ...this.caOption(),
      },
    });
    return this.whileOpening(conn, () => this.setUpRelay(conn, relay));
  }

  private async setUpRelay(conn: SMTPConnection, relay: RelayTarget): Promise<Session> {
    await connect(conn, relay.host);
    if (relay.tls === 'required' && !conn.secure) {
      conn.close();
      const reason = `relay ${relay.host}:${relay.port} does not offer STARTTLS, required by [outbound] smarthost (add "?tls=may" to allow it in the clear)`;
      this.deps.log.warn({ relay: relay.host, port: relay.port }, reason);
      throw new DeliveryError(`4.7.10 ${reason}`, false, relay.host);
    }
    if (relay.user && !conn.secure && !isLoopbackHost(relay.host)) {
      // As Postfix's smtp_sasl_security_options = noplaintext: a password never crosses the network in the clear.
      conn.close();
      const reason = `relay ${relay.host}:${relay.port} is not encrypted, so the password in [outbound] smarthost is not sent to it (use STARTTLS or smtps://)`;
      this.deps.log.warn({ relay: relay.host, port: relay.port }, reason);
      throw new DeliveryError(`4.7.10 ${reason}`, false, relay.host);
    }
    if (relay.user) {
      await new Promise<void>((resolve, reject) =>
        conn.login({ user: relay.user!, pass: relay.pass ?? '' }, (err) =>
          err
            ? reject(new DeliveryError(`relay ${relay.host} refused our login: ${describe(err)}`, false, relay.host))
            : resolve(),
        ),
      );
    }
    return new Session(conn, relay.host);
  }

  /**
   * Runs a connection's set-up (greeting, STARTTLS, login) where stop() can cut it off; a set-up
   * that fails closes its connection.
   */
  private async whileOpening(
    conn: SMTPConnection,
    setUp: () => Promise<Session>,
    socket?: { destroy(): void },
  ): Promise<Session> {
    const close = () => {
      destroyConnection(conn);
      socket?.destroy(); // given to conn, which has not taken it if set-up never began
    };
    let cut!: () => void;
    const cutOff = new Promise<never>(
      (_, reject) => (cut = () => reject(new DeliveryError('4.4.2 connection closed at shutdown', false))),
    );
    const abort = () => {
      close();
      cut(); // a login or STARTTLS in progress may never call back on a closed connection
    };
    this.opening.add(abort);
    try {
      if (this.stopping) throw new DeliveryError('4.4.2 not delivering: shutting down', false);
      const setting = setUp();
      setting.catch(() => undefined); // when cut off first, its own failure is of no interest
      return await Promise.race([setting, cutOff]);
    } catch (err) {
      close();
      throw err;
    } finally {
      this.opening.delete(abort);
    }
  }

  private caOption(): { ca?: string[] } {
    return this.options.extraCa.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : {};
  }

  /** RFC 5321 §5.1: MX records by preference, else the domain's own address; RFC 7505 null MX refuses. */
  private async mxHosts(domain: string): Promise<Array<{ exchange: string; priority: number }>> {
    let records: Array<{ exchange: string; priority: number }>;
    try {
      records = (await this.deps.resolve(domain, 'MX')) as Array<{ exchange: string; priority: number }>;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND')
        throw new DeliveryError(`5.1.2 domain ${domain} does not exist (DNS: no such domain)`, true);
      if (code !== 'ENODATA')
        throw new DeliveryError(`4.4.3 DNS lookup of the MX of ${domain} failed: ${code ?? describe(err)}`, false);
      records = [];
    }
    if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
      if (records.length === 1) throw new DeliveryError(`5.1.10 ${domain} accepts no mail (null MX, RFC 7505)`, true);
      records = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
    }
    if (records.length === 0) return [{ exchange: domain, priority: 0 }];
    return records
      .map((r) => ({ exchange: r.exchange.replace(/\.$/, '').toLowerCase(), priority: r.priority }))
      .sort((a, b) => a.priority - b.priority);
  }

  private async openMx(domain: string): Promise<Session> {
    let mx = await this.mxHosts(domain);
    const policy = this.deps.mtaSts ? await this.deps.mtaSts.policy(domain) : undefined;
    const enforce = policy?.mode === 'enforce';
    if (policy && policy.mode !== 'none') {
      const allowed = mx.filter((m) => this.deps.mtaSts!.matches(m.exchange, policy));
      if (allowed.length === 0) {
        await this.tlsResult(domain, 'sts', mx[0]?.exchange ?? domain, 'validation-failure');
        if (enforce)
          throw new DeliveryError(
            `4.7.5 no MX host of ${domain} is allowed by its MTA-STS policy (${policy.mx.join(', ')})`,
            false,
          );
      } else if (enforce) mx = allowed;
    }
    const resolve = this.deps.resolve;
    let connection: MxConnection;
    try {
      connection = await mxConnect({
        target: domain,
        port: this.options.port,
        mx,
        maxConnectTime: this.options.connectTimeoutMs,
        ...(this.options.sourceAddress ? { localAddress: this.options.sourceAddress } : {}),
        localHostname: this.options.heloName,
        dnsOptions: {
          resolve: (name, type, cb) => {
            const [rr, done] = typeof type === 'function' ? ['A', type] : [type, cb!];
            resolve(name, rr).then(
              (r) => done(null, r),
              (e: Error) => done(e),
            );
          },
        },
        dane: {
          enabled: this.options.dane,
          verify: false,
          // RFC 7672 §2.2: only TLSA records the resolver validated count; insecure ones are ignored.
          resolveTlsa: async (name) => {
            const answer = await this.deps.tlsa(name);
            return answer.authenticated ? answer.records : [];
          },
        },
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new DeliveryError(
        `4.4.1 cannot connect to the MX of ${domain} (${mx.map((m) => m.exchange).join(', ')}): ${code ? `${code} ` : ''}${describe(err)}`,
        false,
      );
    }
    const tlsa = (connection.tlsaRecords ?? []).filter((r) => r.usage === 2 || r.usage === 3) as TlsaRecord[];
    const dane = this.options.dane && tlsa.length > 0;
    const requireTls = dane || enforce;
    const conn = new SMTPConnection({
      ...this.common(),
      connection: connection.socket,
      host: connection.host,
      port: connection.port,
      secure: false,
      requireTLS: requireTls,
      opportunisticTLS: !requireTls,
      tls: {
        servername: connection.hostname,
        // MTA-STS (RFC 8461 §4.2) validates the certificate for the MX name; DANE checks TLSA below.
        rejectUnauthorized: enforce && !dane,
        ...this.caOption(),
      },
    });
    return this.whileOpening(
      conn,
      () => this.setUpMx(conn, connection, { domain, policy, enforce, dane, tlsa }),
      connection.socket,
    );
  }

  private async setUpMx(
    conn: SMTPConnection,
    connection: MxConnection,
    p: { domain: string; policy: MtaStsPolicy | undefined; enforce: boolean; dane: boolean; tlsa: TlsaRecord[] },
  ): Promise<Session> {
    const { domain, policy, enforce, dane, tlsa } = p;
    try {
      await connect(conn, connection.hostname);
    } catch (err) {
      if (dane) await this.tlsResult(domain, 'tlsa', connection.hostname, 'starttls-not-supported');
      else if (enforce) await this.tlsResult(domain, 'sts', connection.hostname, 'certificate-host-mismatch');
      throw err instanceof DeliveryError ? err : new DeliveryError(describe(err), false, connection.hostname);
    }
    const socket = (conn as unknown as { _socket?: TLSSocket })._socket;
    const secure = Boolean(conn.secure);
    if (dane) {
      const peer = secure ? socket?.getPeerX509Certificate() : undefined;
      // mx-connect re-derives the SPKI with createPublicKey(cert.publicKey), which on Node 20 takes a PEM, not a KeyObject.
      const cert = peer && { raw: peer.raw, publicKey: peer.publicKey.export({ type: 'spki', format: 'pem' }) };
      const check = cert ? verifyCertAgainstTlsa(cert, tlsa) : { valid: false, error: 'no TLS' };
      if (!check.valid) {
        conn.close();
        await this.tlsResult(domain, 'tlsa', connection.hostname, 'tlsa-invalid');
        throw new DeliveryError(
          `4.7.5 the certificate of ${connection.hostname} matches none of its DANE TLSA records (${check.error ?? 'mismatch'}); not delivering`,
          false,
          connection.hostname,
        );
      }
    }
    await this.tlsResult(
      domain,
      dane ? 'tlsa' : enforce || policy?.mode === 'testing' ? 'sts' : 'no-policy-found',
      connection.hostname,
      secure ? 'success' : 'no-tls',
    );
    return new Session(conn, connection.hostname);
  }

  private async tlsResult(policyDomain: string, policyType: string, mxHost: string, result: string): Promise<void> {
    await this.deps.store.queue.recordTls([{ policyDomain, policyType, mxHost, result }]).catch(() => undefined);
  }
}

function describe(err: unknown): string {
  const e = err as { response?: string; message?: string };
  return (e.response ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim();
}

function connect(conn: SMTPConnection, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    conn.once('error', (err: Error & { responseCode?: number }) => {
      if (settled) return;
      settled = true;
      const code = err.responseCode ?? 0;
      reject(
        new DeliveryError(
          `${host}: ${describe(err)}`,
          code >= 500 && code < 600 && !/TLS|certificate/i.test(err.message),
          host,
        ),
      );
    });
    // A connection closed before its greeting (cut off at shutdown) emits only 'end'.
    conn.once('end', () => {
      if (settled) return;
      settled = true;
      reject(new DeliveryError(`4.4.2 ${host}: connection closed before the greeting`, false, host));
    });
    conn.connect(() => {
      if (settled) return;
      settled = true;
      resolve();
    });
  });
}

interface SendResult {
  accepted: boolean;
  code: number;
  reply: string;
  rejected: Map<string, { code: number; reply: string }>;
}

/** One SMTP client connection, for several messages in turn. */
class Session {
  broken = false;
  private cutOff: (() => void) | undefined;

  constructor(
    private readonly conn: SMTPConnection,
    readonly remoteMta: string,
  ) {
    conn.on('error', () => {
      this.broken = true;
    });
    conn.on('end', () => {
      this.broken = true;
    });
  }

  send(
    envelope: {
      from: string;
      to: string[];
      dsn?: {
        ret?: string | undefined;
        envid?: string | undefined;
        notify?: string | undefined;
        orcpt?: string | undefined;
      };
    },
    content: Buffer,
  ): Promise<SendResult> {
    return new Promise((settle) => {
      const resolve = (r: SendResult) => {
        this.cutOff = undefined;
        settle(r);
      };
      // A closed SMTPConnection drops its pending callbacks: abort() settles through this instead.
      this.cutOff = () =>
        resolve({
          accepted: false,
          code: 451,
          reply: `4.4.2 ${this.remoteMta}: connection closed at shutdown`,
          rejected: new Map(),
        });
      this.conn.send(envelope as Parameters<SMTPConnection['send']>[0], content, (err, info) => {
        if (!this.cutOff) return;
        const rejected = new Map<string, { code: number; reply: string }>();
        const errors = (info?.rejectedErrors ??
          (err as { rejectedErrors?: unknown[] } | null)?.rejectedErrors ??
          []) as Array<{ recipient?: string; responseCode?: number; response?: string; message?: string }>;
        for (const e of errors)
          if (e.recipient) rejected.set(e.recipient.toLowerCase(), { code: e.responseCode ?? 451, reply: describe(e) });
        if (err) {
          const e = err as { responseCode?: number; code?: string };
          // No reply code: the connection broke or timed out, so nothing is known to be delivered.
          if (!e.responseCode) this.broken = true;
          return resolve({
            accepted: false,
            code: e.responseCode ?? 451,
            reply: e.responseCode ? describe(err) : `4.4.2 ${this.remoteMta}: ${describe(err)}`,
            rejected,
          });
        }
        resolve({ accepted: true, code: 250, reply: info.response, rejected });
      });
    });
  }

  close(): void {
    if (this.broken) this.conn.close();
    else this.conn.quit();
  }

  /** Shutdown: the socket goes now (no QUIT, no waiting for the peer); a send in progress ends as a 4.4.2 deferral. */
  abort(): void {
    this.broken = true;
    destroyConnection(this.conn);
    this.cutOff?.();
  }
}

/** Closes a connection now: no QUIT, no waiting for the peer. */
function destroyConnection(conn: SMTPConnection): void {
  conn.close();
  (conn as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
}

/** After aborting, how long stop() waits for the cut-off deliveries to be recorded. */
const ABORT_WAIT_MS = 2000;

/** Whether `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return r;
}
