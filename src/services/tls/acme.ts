/**
 * Certificates from an ACME CA (RFC 8555) for every hosted domain: plans which names go on which
 * certificate, orders the missing and the expiring ones with acme-client, answers the CA's
 * http-01 (RFC 8555 §8.3) or tls-alpn-01 (RFC 8737) challenges through the ChallengeStore, and
 * writes the result in certbot's layout, where the registry picks it up for every listener.
 * A failed order is logged with the CA's reason and retried with backoff, longer when rate-limited.
 */
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import acme from 'acme-client';
import type { Logger } from '../../lib/log.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import type { ChallengeStore } from './challenges.js';
import { readLineage, writeLineage, type LineageInfo } from './certbot.js';

export interface AcmeOptions {
  directoryUrl: string;
  email: string;
  challenge: 'http-01' | 'tls-alpn-01';
  hostname: string;
  /** Names per hosted domain D, as prefixes: ["mail", "mta-sts", "autoconfig"] → mail.D, … */
  subdomains: readonly string[];
  /** "domain": one certificate per domain (plus one for the host name when no domain holds it); "shared": SAN certificates of up to 100 names. */
  group: 'domain' | 'shared';
  keyType: 'ecdsa' | 'rsa';
  renewBeforeMs: number;
  checkIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  dataDir: string;
  certbotDir: string;
  eab?: { kid: string; hmacKey: string } | undefined;
  /** Extra CA certificates (PEM) trusted for the ACME server's own HTTPS (private CAs, pebble). */
  extraCa: readonly string[];
}

export interface AcmeDeps {
  domains(): Promise<string[]>;
  resolve: DnsResolve;
  challenges: ChallengeStore;
  log: Logger;
  /** Called after a certificate is written, to load it at once. */
  onIssued(): Promise<void>;
}

export interface PlannedCertificate {
  lineage: string;
  /** The hosted domain it is for; undefined for the host name's own certificate or a shared group. */
  domain: string | undefined;
  names: string[];
}

export interface CertificateStatus extends PlannedCertificate {
  current: LineageInfo | undefined;
  /** Why an order is due now, or undefined. */
  due: string | undefined;
  /** Names left off because DNS does not point them anywhere. */
  unresolved: string[];
}

interface Backoff {
  failures: number;
  nextAttempt: number;
  lastError: string;
}

const MAX_NAMES = 100; // Let's Encrypt's limit of names per certificate
const RATE_LIMIT_WAIT_MS = 3 * 3_600_000;
const TICK_MS = 30_000;
const LOCK_STALE_MS = 10 * 60_000;
const STOP_WAIT_MS = 3000;

export class Acme {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly backoff = new Map<string, Backoff>();
  private readonly nextCheck = new Map<string, number>();
  private client: acme.Client | undefined;

  constructor(
    private readonly options: AcmeOptions,
    private readonly deps: AcmeDeps,
  ) {
    if (options.extraCa.length) {
      // acme-client talks through its own axios instance; the agent adds the private CA to the system ones.
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, ...options.extraCa] });
    }
  }

  /** Checks at once, then every TICK_MS for certificates due (each one at most every check interval). */
  start(): void {
    const tick = () => {
      this.running ??= this.renewDue()
        .catch((err: unknown) => this.deps.log.error({ reason: (err as Error).message }, 'certificate check failed'))
        .finally(() => {
          this.running = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, Math.min(TICK_MS, this.options.checkIntervalMs));
    this.timer.unref();
  }

  /** Stops checking; an order in flight gets a few seconds to finish (its lock goes stale otherwise). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((r) => (wait = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(wait);
  }

  /** Which certificates the hosted domains need, and which names each holds. */
  async plan(): Promise<PlannedCertificate[]> {
    const host = this.options.hostname.toLowerCase();
    const domains = [...new Set((await this.deps.domains()).map((d) => d.toLowerCase()))].sort();
    const perDomain = domains.map((domain) => {
      const names = this.options.subdomains.map((s) => `${s}.${domain}`.toLowerCase());
      if (host.endsWith(`.${domain}`) || host === domain) names.unshift(host);
      return { lineage: names[0]!, domain, names: [...new Set(names)] };
    });
    const hostCovered = perDomain.some((p) => p.names.includes(host));
    if (this.options.group === 'domain') {
      return hostCovered ? perDomain : [{ lineage: host, domain: undefined, names: [host] }, ...perDomain];
    }
    const all = [...new Set([host, ...perDomain.flatMap((p) => p.names)])];
    const out: PlannedCertificate[] = [];
    for (let i = 0; i * MAX_NAMES < all.length; i++) {
      out.push({
        lineage: i === 0 ? host : `${host}-${String(i + 1).padStart(4, '0')}`,
        domain: undefined,
        names: all.slice(i * MAX_NAMES, (i + 1) * MAX_NAMES),
      });
    }
    return out;
  }

  /** The plan with what is on disk and what is due. */
  async status(): Promise<CertificateStatus[]> {
    const out: CertificateStatus[] = [];
    for (const p of await this.plan()) out.push(await this.statusOf(p));
    return out;
  }

  /** Orders every certificate that is due and whose backoff has passed. */
  async renewDue(): Promise<void> {
    const now = Date.now();
    for (const planned of await this.plan()) {
      const b = this.backoff.get(planned.lineage);
      if (b && b.nextAttempt > now) continue;
      if (!b && (this.nextCheck.get(planned.lineage) ?? 0) > now) continue;
      const s = await this.statusOf(planned);
      this.nextCheck.set(planned.lineage, now + this.options.checkIntervalMs);
      if (s.due) await this.order(s).catch(() => undefined);
    }
  }

  /**
   * Orders the certificate for `domain` (its lineage; the host name's when `domain` is the host
   * name) now, due or not. Throws with the CA's reason when the order fails.
   */
  async issue(domain: string): Promise<LineageInfo> {
    const d = domain.toLowerCase();
    const planned = (await this.plan()).find((p) => p.domain === d || p.lineage === d || p.names.includes(d));
    if (!planned)
      throw new Error(`${domain} is not a hosted domain nor the host name: add it with "postern domain add ${domain}"`);
    return this.order(await this.statusOf(planned), 'requested');
  }

  private async statusOf(planned: PlannedCertificate): Promise<CertificateStatus> {
    const current = await readLineage(this.options.certbotDir, planned.lineage);
    const unresolved: string[] = [];
    const names: string[] = [];
    for (const n of planned.names) ((await this.resolves(n)) ? names : unresolved).push(n);
    const s: CertificateStatus = { ...planned, names, current, due: undefined, unresolved };
    if (names.length === 0) return s;
    if (!current) s.due = 'no certificate yet';
    else if (names.some((n) => !current.names.includes(n)))
      s.due = `names missing from it: ${names.filter((n) => !current.names.includes(n)).join(', ')}`;
    else {
      const lifetime = current.notAfter.getTime() - current.notBefore.getTime();
      const left = current.notAfter.getTime() - Date.now();
      // Renew 30 days ahead, or at a third of the lifetime left for short-lived certificates.
      if (left < Math.min(this.options.renewBeforeMs, lifetime / 3))
        s.due = `expires ${current.notAfter.toISOString()}`;
    }
    return s;
  }

  private async resolves(name: string): Promise<boolean> {
    for (const type of ['A', 'AAAA', 'CNAME']) {
      const r = await this.deps.resolve(name, type).catch(() => []);
      if (Array.isArray(r) && r.length > 0) return true;
    }
    return false;
  }

  private async order(s: CertificateStatus, reason = s.due ?? 'requested'): Promise<LineageInfo> {
    const { log } = this.deps;
    if (s.unresolved.length) {
      log.warn(
        { lineage: s.lineage, names: s.unresolved },
        'names left off the certificate: they have no A/AAAA record; publish them (see "postern dns") to have them included',
      );
    }
    if (s.names.length === 0)
      throw new Error(
        `no name of ${s.lineage} resolves in DNS: publish A/AAAA records for ${s.unresolved.join(', ')} first`,
      );
    const release = await this.lock(s.lineage);
    const started = Date.now();
    try {
      log.info(
        { lineage: s.lineage, names: s.names, challenge: this.options.challenge, reason },
        'ordering certificate',
      );
      const pems = await this.runOrder(s.names);
      await writeLineage(this.options.certbotDir, s.lineage, pems);
      this.backoff.delete(s.lineage);
      const info = (await readLineage(this.options.certbotDir, s.lineage))!;
      log.info(
        {
          lineage: s.lineage,
          names: info.names,
          issuer: info.issuer,
          notAfter: info.notAfter.toISOString(),
          ms: Date.now() - started,
        },
        'certificate issued',
      );
      await this.deps.onIssued();
      return info;
    } catch (err) {
      const message = this.explain(err as Error & { code?: string });
      const prev = this.backoff.get(s.lineage);
      const failures = (prev?.failures ?? 0) + 1;
      const rateLimited = /rate.?limit|too many/i.test(message);
      let wait = Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** (failures - 1));
      if (rateLimited) wait = Math.max(wait, RATE_LIMIT_WAIT_MS);
      this.backoff.set(s.lineage, { failures, nextAttempt: Date.now() + wait, lastError: message });
      log.error(
        {
          lineage: s.lineage,
          names: s.names,
          challenge: this.options.challenge,
          attempt: failures,
          retryAt: new Date(Date.now() + wait).toISOString(),
          rateLimited,
          reason: message,
        },
        'certificate order failed',
      );
      throw new Error(`certificate order for ${s.names.join(', ')} failed: ${message}`);
    } finally {
      await release();
    }
  }

  private async runOrder(names: string[]): Promise<{ key: string; fullchain: string }> {
    const client = await this.acmeClient();
    const key =
      this.options.keyType === 'rsa'
        ? await acme.crypto.createPrivateRsaKey(2048)
        : await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, key);
    const { challenges } = this.deps;
    const fullchain = await client.auto({
      csr,
      email: this.options.email,
      termsOfServiceAgreed: true,
      challengePriority: [this.options.challenge],
      // The CA checks; a check from here would ask the system resolver and this host's own view.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, ch, keyAuthorization) => {
        const challenge = ch as { type: string; token: string }; // acme-client's types omit tls-alpn-01
        if (challenge.type === 'http-01') await challenges.putHttp(challenge.token, keyAuthorization);
        else if (challenge.type === 'tls-alpn-01') {
          const [k, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
          await challenges.putAlpn(authz.identifier.value, { key: k.toString(), cert: cert.toString() });
        } else throw new Error(`the CA offers no ${this.options.challenge} challenge for ${authz.identifier.value}`);
      },
      challengeRemoveFn: async (authz, ch) => {
        const challenge = ch as { type: string; token: string };
        if (challenge.type === 'http-01') await challenges.removeHttp(challenge.token);
        else if (challenge.type === 'tls-alpn-01') await challenges.removeAlpn(authz.identifier.value);
      },
    });
    return { key: key.toString(), fullchain };
  }

  /** The CA's reason, with what to check for the usual causes. */
  private explain(err: Error & { code?: string }): string {
    if (/externalAccountBinding|external account/i.test(err.message))
      return `${err.message} — this CA requires External Account Binding: set [acme] eab_kid and eab_hmac_key to the values your CA account shows`;
    if (err.code) return `cannot reach the ACME server ${this.options.directoryUrl}: ${err.message} (${err.code})`;
    if (/connection refused|timeout|no such host|fetching|connect|no valid A records/i.test(err.message)) {
      const where = this.options.challenge === 'http-01' ? 'port 80 (http-01)' : 'port 443 (tls-alpn-01)';
      return `${err.message} — the CA could not reach this server on ${where}: check the name's A/AAAA record, the firewall, and that "postern serve" is listening there`;
    }
    return err.message;
  }

  private async acmeClient(): Promise<acme.Client> {
    if (this.client) return this.client;
    const file = path.join(this.options.dataDir, 'acme', 'account.key');
    let accountKey = await readFile(file, 'utf8').catch(() => undefined);
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const fh = await open(file, 'wx', 0o600).catch(() => undefined);
      if (fh) {
        await fh.writeFile(accountKey);
        await fh.sync();
        await fh.close();
      } else accountKey = await readFile(file, 'utf8'); // another process made it first
    }
    this.client = new acme.Client({
      directoryUrl: this.options.directoryUrl,
      accountKey,
      ...(this.options.eab ? { externalAccountBinding: this.options.eab } : {}),
      backoffAttempts: 12,
      backoffMin: 500,
      backoffMax: 10_000,
    });
    return this.client;
  }

  /** One order per lineage at a time, across processes (the server and `postern cert issue`). */
  private async lock(lineage: string): Promise<() => Promise<void>> {
    const dir = path.join(this.options.dataDir, 'acme', 'locks');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${lineage}.lock`);
    for (let tries = 0; ; tries++) {
      const fh = await open(file, 'wx', 0o600).catch(() => undefined);
      if (fh) {
        await fh.writeFile(String(process.pid));
        await fh.close();
        return () => unlink(file).catch(() => undefined);
      }
      const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0);
      if (age > LOCK_STALE_MS) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (tries >= 120) throw new Error(`another process is ordering ${lineage} (lock ${file})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
