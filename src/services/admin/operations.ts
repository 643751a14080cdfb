/**
 * The admin API's server operations: a domain's DKIM keys (list, rotate) and the DNS records to
 * publish, for the admins of that domain; the outbound queue (list, show, retry, hold, release,
 * delete, as mailq and postsuper do) for superadmins; the server's status for any admin. Rights are
 * checked first (access.ts) and changes audited, as in Administration.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { dkimTxtValue } from '../../mail/dkim/record.js';
import { normalizeDomain } from '../../mail/address.js';
import type { DkimAlgorithm, DkimKeyRecord, QueueEntry, Store } from '../../store/index.js';
import type { Dkim } from '../dkim/index.js';
import type { Metrics } from '../metrics/index.js';
import type { CertificateInfo } from '../tls/registry.js';
import type { RecentLog } from '../../lib/recent-log.js';
import type { DoctorReport } from '../doctor/index.js';
import type { DnsRecord } from '../doctor/records.js';
import { requireAdmin, requireDomain, requireSuper, visibleDomains, type Principal } from './access.js';
import { writeAudit } from './audit.js';
import { DoctorWatch } from './doctor-watch.js';

export interface OperationsDeps {
  store: Store;
  dkim: Dkim;
  metrics: Pick<Metrics, 'series'>;
  /** The DNS records to publish for a domain with these keys (`postern dns`'s, from compose). */
  records(domain: string, keys: DkimKeyRecord[]): DnsRecord[];
  /** A hosted domain's DNS findings (compose/records.ts: the doctor's domain checks). */
  doctor(domain: string): Promise<DoctorReport>;
  /** The certificates the listeners serve. */
  certificates(): CertificateInfo[];
  /** The log's newest lines, when the server keeps them. */
  recentLog?: Pick<RecentLog, 'search'> | undefined;
  hostname: string;
  log: Logger;
}

const ALGORITHMS: readonly DkimAlgorithm[] = ['rsa2048', 'rsa4096', 'ed25519'];
const startedAt = Date.now();

const dkimView = (k: DkimKeyRecord) => ({
  selector: k.selector,
  algorithm: k.algorithm,
  status: k.status,
  name: `${k.selector}._domainkey.${k.domain}`,
  txt: dkimTxtValue(k),
  createdAt: k.createdAt.toISOString(),
});

const queueView = (e: QueueEntry) => ({
  id: e.qid,
  sender: e.sender,
  size: e.size,
  held: e.isHeld,
  createdAt: e.createdAt.toISOString(),
  recipients: e.recipients.map((r) => ({
    recipient: r.recipient,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError ?? null,
  })),
});

export class Operations {
  /** The doctor's last findings per domain, for the dashboard (doctor-watch.ts). */
  readonly doctorWatch: DoctorWatch;

  constructor(private readonly deps: OperationsDeps) {
    this.doctorWatch = new DoctorWatch(deps);
  }

  /** A hosted (not alias) domain the caller may read or change. */
  private async hosted(p: Principal, input: string, need: 'read' | 'write'): Promise<string> {
    const check = normalizeDomain(input, { requireDot: true });
    if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
    requireDomain(p, check.domain, need);
    const domain = await this.deps.store.domains.get(check.domain);
    if (!domain) throw new MailError('DOMAIN_NOT_FOUND', `domain ${check.domain} is not hosted`);
    if (domain.aliasOf)
      throw new MailError(
        'INVALID_INPUT',
        `${check.domain} is an alias of ${domain.aliasOf}: its keys and records are those of ${domain.aliasOf}`,
      );
    return check.domain;
  }

  async listDkim(p: Principal, input: string) {
    const domain = await this.hosted(p, input, 'read');
    return (await this.deps.dkim.list(domain)).map(dkimView);
  }

  /** A new selector, pending until DNS shows it (or active at once with `now`); the old key retires then. */
  async rotateDkim(p: Principal, input: string, options: { now?: boolean; algorithm?: string }) {
    const domain = await this.hosted(p, input, 'write');
    if (options.algorithm !== undefined && !ALGORITHMS.includes(options.algorithm as DkimAlgorithm))
      throw new MailError('INVALID_INPUT', `algorithm must be one of ${ALGORITHMS.join(', ')}`);
    const before = (await this.deps.dkim.list(domain)).map(dkimView);
    const key = dkimView(
      await this.deps.dkim.rotate(domain, {
        now: options.now === true,
        algorithm: options.algorithm as DkimAlgorithm | undefined,
      }),
    );
    await writeAudit(this.deps.store, p, { action: 'dkim.rotate', target: key.name, domain, before, after: key });
    return key;
  }

  async dnsRecords(p: Principal, input: string): Promise<DnsRecord[]> {
    const domain = await this.hosted(p, input, 'read');
    return this.deps.records(domain, await this.deps.dkim.list(domain));
  }

  /** What is wrong with a domain's DNS, each finding with its fix (the doctor's domain checks). */
  async doctor(p: Principal, input: string) {
    const domain = await this.hosted(p, input, 'read');
    const r = await this.doctorWatch.check(domain);
    return { findings: r.findings, counts: r.counts };
  }

  /** The last doctor result of each domain the caller sees, and whether a check of all is running. */
  async doctorStatus(p: Principal) {
    requireAdmin(p, 'read');
    return { running: this.doctorWatch.isRunning, items: await this.doctorWatch.health(visibleDomains(p)) };
  }

  /** Starts checking every domain the caller sees (in the background: they query DNS). */
  async runDoctor(p: Principal) {
    requireAdmin(p, 'read');
    this.doctorWatch.runAll(visibleDomains(p));
    return this.doctorStatus(p);
  }

  async listQueue(p: Principal) {
    requireSuper(p, 'read');
    return (await this.deps.store.queue.list()).map(queueView);
  }

  async getQueue(p: Principal, id: string) {
    requireSuper(p, 'read');
    return queueView(await this.entry(id));
  }

  /** retry: due now; hold / release: kept from delivery or let go; remove: deleted without a bounce. */
  async changeQueue(p: Principal, id: string, action: 'retry' | 'hold' | 'release' | 'remove') {
    requireSuper(p, 'write');
    const entry = await this.entry(id);
    const queue = this.deps.store.queue;
    if (action === 'retry') await queue.retry(entry.qid);
    else if (action === 'remove') await queue.remove(entry.qid);
    else await queue.setHeld(entry.qid, action === 'hold');
    this.deps.log.info({ qid: entry.qid, action, by: p.actor }, 'queue entry changed');
    await writeAudit(this.deps.store, p, {
      action: `queue.${action}`,
      target: entry.qid,
      domain: null,
      before: queueView(entry),
    });
    return action === 'remove' ? undefined : queueView(await this.entry(entry.qid));
  }

  private async entry(id: string): Promise<QueueEntry> {
    const entry = /^[A-Za-z0-9]{1,64}$/.test(id) ? await this.deps.store.queue.get(id.toUpperCase()) : undefined;
    if (!entry) throw new MailError('NOT_FOUND', `no queue entry ${id}`);
    return entry;
  }

  /** The dashboard's charts: the last 24 hours by hour and the last 30 days by day. */
  async stats(p: Principal) {
    requireAdmin(p, 'read');
    return { hours: await this.deps.metrics.series('hour', 24), days: await this.deps.metrics.series('day', 30) };
  }

  /** The certificates served, with their days left; a domain admin sees those naming their domains. */
  async certificates(p: Principal) {
    requireAdmin(p, 'read');
    const visible = visibleDomains(p);
    const covers = (name: string) =>
      !visible || [...visible].some((d) => name === d || name.endsWith(`.${d}`) || name === `*.${d}`);
    return this.deps
      .certificates()
      .filter((c) => c.names.some(covers))
      .map((c) => ({
        names: c.names,
        issuer: /(?:^|\n)CN=([^\n]+)/.exec(c.issuer)?.[1] ?? c.issuer.replace(/\n/g, ', '),
        source: c.source,
        notAfter: c.notAfter.toISOString(),
        daysLeft: Math.floor((c.notAfter.getTime() - Date.now()) / 86_400_000),
      }));
  }

  /** The newest log lines containing every word of `query` (superadmin: logs name every domain's users). */
  async logs(p: Principal, query: string, limit: number) {
    requireSuper(p, 'read');
    if (!this.deps.recentLog) throw new MailError('NOT_FOUND', 'this server keeps no recent log');
    return this.deps.recentLog.search(query, limit);
  }

  /** What any admin may see of the server: its name, uptime, and how much it holds. */
  async status(p: Principal) {
    requireAdmin(p, 'read');
    const { store } = this.deps;
    const queue = await store.queue.list();
    return {
      hostname: this.deps.hostname,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      domains: (await store.domains.list()).length,
      accounts: (await store.accounts.list()).length,
      queue: { entries: queue.length, held: queue.filter((e) => e.isHeld).length },
      schemaVersion: await store.schemaVersion(),
    };
  }
}
