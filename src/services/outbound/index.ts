/**
 * Outbound delivery: recipients queued in the store are claimed with a lease (so several processes
 * sharing one store never send the same one), grouped by destination, and sent over reused
 * connections, a few per destination. Every outcome is recorded durably before the connection moves
 * on to the next message: once a remote 250 is on disk, a crash never sends that recipient again.
 * Temporary failures wait (doubling from retry_min to retry_max) until the lifetime ends; failures
 * and expiry bounce to the sender with an RFC 3464 report, a delay warning comes after delay_warning.
 *
 * This file is the runner: claiming, grouping, connections per destination, shutdown. Opening a
 * connection (relay or MX, TLS policy, MTA-STS, DANE) is connector.ts, the connection itself
 * session.ts, the retry schedule retry.ts, and the reports to the sender notify.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { RelayTarget } from '../../config/schema.js';
import type { QueueEntry, QueueOutcome, QueueRecipient } from '../../store/index.js';
import { Connector } from './connector.js';
import { SenderNotices } from './notify.js';
import type { OutboundDeps, OutboundOptions } from './options.js';
import { expiredOutcomes, isExpired, outcomesOf, type AttemptResult } from './retry.js';
import { DeliveryError, describe, type Session } from './session.js';

export type { OutboundDeps, OutboundOptions } from './options.js';

interface Job {
  entry: QueueEntry;
  recipients: QueueRecipient[];
  domain: string;
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
  private readonly connector: Connector;
  private readonly notices: SenderNotices;

  constructor(
    private readonly options: OutboundOptions,
    private readonly deps: OutboundDeps,
  ) {
    this.connector = new Connector(options, deps, () => this.stopping);
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
        this.connector.abortOpening();
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
      session = await this.connector.open(job.domain, this.relayFor(job.entry.sender));
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
      this.deps.metrics?.count(code < 300 ? 'sent' : code >= 500 ? 'bounced' : 'deferred');
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
