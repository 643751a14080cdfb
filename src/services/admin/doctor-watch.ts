/**
 * The doctor's domain checks for every hosted domain, for the dashboard: the last result of each,
 * kept in memory, from a check of all domains run in the background (a few at a time, one run at a
 * time: they query DNS) every few hours and when an admin asks, and from each check of one domain.
 */
import type { Logger } from '../../lib/log.js';
import type { DoctorReport } from '../doctor/index.js';
import type { Severity } from '../doctor/findings.js';
import type { Store } from '../../store/index.js';

/** Domains checked at once. */
const CONCURRENCY = 4;

export interface DomainHealth {
  domain: string;
  /** When last checked; null until the first check. */
  checkedAt: string | null;
  counts: Record<Severity, number> | null;
  /** The first error's (else warning's) summary: what the dashboard shows. */
  worst: string | null;
  /** A check that could not run (DNS unreachable). */
  failed: string | null;
}

export class DoctorWatch {
  private readonly results = new Map<string, Omit<DomainHealth, 'domain'>>();
  private running: Promise<void> | undefined;

  constructor(private readonly deps: { store: Store; doctor(domain: string): Promise<DoctorReport>; log: Logger }) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Checks one domain now, and keeps its result. */
  async check(domain: string): Promise<DoctorReport> {
    try {
      const r = await this.deps.doctor(domain);
      const worst = r.findings.find((f) => f.severity === 'error') ?? r.findings.find((f) => f.severity === 'warning');
      this.results.set(domain, {
        checkedAt: new Date().toISOString(),
        counts: r.counts,
        worst: worst?.summary ?? null,
        failed: null,
      });
      return r;
    } catch (err) {
      this.results.set(domain, {
        checkedAt: new Date().toISOString(),
        counts: null,
        worst: null,
        failed: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  }

  /** Starts checking the domains (all hosted ones, or those in `only`) unless a run is under way. */
  runAll(only?: ReadonlySet<string>): void {
    if (this.running) return;
    const started = Date.now();
    this.running = (async () => {
      const domains = (await this.domains()).filter((d) => !only || only.has(d));
      let next = 0;
      const worker = async () => {
        while (next < domains.length) {
          const domain = domains[next++]!;
          await this.check(domain).catch(() => undefined);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, domains.length) }, worker));
      this.deps.log.info({ domains: domains.length, ms: Date.now() - started }, 'doctor checked the domains');
    })()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'doctor could not check the domains'))
      .finally(() => (this.running = undefined));
  }

  /** The last result of each hosted domain (of those in `only`), errors first. */
  async health(only?: ReadonlySet<string>): Promise<DomainHealth[]> {
    const rank = (h: DomainHealth) => (h.failed ? 0 : !h.counts ? 3 : h.counts.error ? 1 : h.counts.warning ? 2 : 4);
    return (await this.domains())
      .filter((d) => !only || only.has(d))
      .map((domain): DomainHealth => {
        const r = this.results.get(domain);
        return {
          domain,
          checkedAt: r?.checkedAt ?? null,
          counts: r?.counts ?? null,
          worst: r?.worst ?? null,
          failed: r?.failed ?? null,
        };
      })
      .sort((a, b) => rank(a) - rank(b) || a.domain.localeCompare(b.domain));
  }

  private async domains(): Promise<string[]> {
    // An alias domain's keys and records are its target's.
    return (await this.deps.store.domains.list()).filter((d) => !d.aliasOf).map((d) => d.name);
  }
}
