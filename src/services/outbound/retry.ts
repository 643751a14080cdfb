/**
 * The retry schedule: a temporary failure waits retry_min, doubling with each attempt up to retry_max,
 * and never past the end of the message's lifetime, which is its last attempt; a 2xx is sent, a 5xx
 * failed. A message still queued when its lifetime is over fails for every recipient left.
 */
import type { QueueEntry, QueueOutcome, QueueRecipient } from '../../store/index.js';
import type { OutboundOptions } from './options.js';

/** What one attempt gave for one recipient: the remote reply, or one made up for a failure before it. */
export interface AttemptResult {
  recipient: QueueRecipient;
  code: number;
  reply: string;
  remoteMta: string | null;
}

type Schedule = Pick<OutboundOptions, 'retryMinMs' | 'retryMaxMs' | 'lifetimeMs'>;

/** The outcome to record for each result of an attempt made at `now`. */
export function outcomesOf(
  results: readonly AttemptResult[],
  entry: QueueEntry,
  now: number,
  o: Schedule,
): QueueOutcome[] {
  return results.map(({ recipient: r, code, reply, remoteMta }) => {
    if (code >= 200 && code < 300) return { id: r.id, status: 'sent', error: null, remoteMta };
    if (code >= 500) return { id: r.id, status: 'failed', error: reply, remoteMta };
    const wait = Math.min(o.retryMaxMs, o.retryMinMs * 2 ** Math.min(20, r.attempts));
    if (now + wait > entry.createdAt.getTime() + o.lifetimeMs || now >= entry.createdAt.getTime() + o.lifetimeMs) {
      return {
        id: r.id,
        status: 'pending',
        error: reply,
        remoteMta,
        nextAttemptAt: new Date(entry.createdAt.getTime() + o.lifetimeMs),
      };
    }
    return { id: r.id, status: 'pending', error: reply, remoteMta, nextAttemptAt: new Date(now + wait) };
  });
}

export function isExpired(entry: QueueEntry, lifetimeMs: number): boolean {
  return Date.now() >= entry.createdAt.getTime() + lifetimeMs;
}

/** Every recipient of an entry whose lifetime is over fails, with its last error. */
export function expiredOutcomes(entry: QueueEntry, lifetimeMs: number): QueueOutcome[] {
  return entry.recipients.map((r) => ({
    id: r.id,
    status: 'failed',
    remoteMta: r.remoteMta,
    error: `message expired after ${Math.round(lifetimeMs / 3_600_000)}h in the queue${r.lastError ? `; last error: ${r.lastError}` : ''}`,
  }));
}
