/**
 * What the dashboard charts: messages received, refused, taken as spam (filed to Junk, held or
 * refused by the content filter), sent, bounced and deferred, counted per hour, and the queue's
 * size sampled. Counting is a map increment on the delivery path; the counts reach the store once
 * a minute (and at shutdown), so a crash loses at most a minute of them — they are statistics, not
 * mail. Hours older than `keepDays` are pruned.
 */
import type { Logger } from '../../lib/log.js';
import type { MetricPoint, Store } from '../../store/index.js';

export const COUNTERS = ['received', 'rejected', 'spam', 'sent', 'bounced', 'deferred'] as const;
export type CounterName = (typeof COUNTERS)[number];
export const GAUGES = ['queue'] as const;

const HOUR_MS = 3_600_000;
export const hourOf = (ms: number) => Math.floor(ms / HOUR_MS);

export class Metrics {
  private pending = new Map<string, number>();

  constructor(private readonly deps: { store: Store; log: Logger; keepDays: number; now?: () => number }) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  count(name: CounterName, n = 1): void {
    const key = `${hourOf(this.now())}|${name}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + n);
  }

  /** Writes the counts so far and the queue's size now; old hours are pruned. */
  async flush(): Promise<void> {
    const add: MetricPoint[] = [...this.pending].map(([key, value]) => {
      const [hour, name] = key.split('|') as [string, string];
      return { hour: Number(hour), name, value };
    });
    this.pending = new Map();
    const hour = hourOf(this.now());
    const queue = (await this.deps.store.queue.list()).length;
    await this.deps.store.metrics.record({ add, set: [{ hour, name: 'queue', value: queue }] });
    await this.deps.store.metrics.prune(hour - this.deps.keepDays * 24);
  }

  /**
   * Series for a chart: one value per hour (`step` 'hour', the last `count` hours) or per day (`step`
   * 'day', the last `count` days, counters summed and the queue at its largest), oldest first.
   */
  async series(step: 'hour' | 'day', count: number): Promise<{ start: string; values: Record<string, number[]> }> {
    const per = step === 'hour' ? 1 : 24;
    const nowHour = hourOf(this.now());
    const lastBucket = Math.floor(nowHour / per);
    const firstHour = (lastBucket - count + 1) * per;
    const points = await this.deps.store.metrics.range(firstHour, nowHour);
    const values: Record<string, number[]> = {};
    for (const name of [...COUNTERS, ...GAUGES]) values[name] = new Array<number>(count).fill(0);
    for (const p of points) {
      const series = values[p.name];
      if (!series) continue;
      const i = Math.floor(p.hour / per) - (lastBucket - count + 1);
      series[i] = (GAUGES as readonly string[]).includes(p.name) ? Math.max(series[i]!, p.value) : series[i]! + p.value;
    }
    // What is counted but not flushed yet belongs to the last bucket.
    for (const [key, value] of this.pending) {
      const [, name] = key.split('|') as [string, string];
      if (values[name]) values[name][count - 1]! += value;
    }
    return { start: new Date(firstHour * HOUR_MS).toISOString(), values };
  }
}
