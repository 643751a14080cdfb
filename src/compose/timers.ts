/**
 * The server's periodic work: removing unreferenced content, promoting rotated DKIM keys once DNS shows
 * them, expiring quarantined mail, greylisting state, old change-log rows and push subscriptions, writing the dashboard's
 * counts, checking every domain's DNS for the dashboard, and sending delayed JMAP submissions.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { DoctorWatch } from '../services/admin/doctor-watch.js';
import type { Dkim } from '../services/dkim/index.js';
import type { Metrics } from '../services/metrics/index.js';
import type { Quarantine } from '../services/quarantine/index.js';
import type { ScheduledSubmissions } from '../services/acceptance/scheduled.js';
import type { Store } from '../store/index.js';

const DKIM_CHECK_MS = 10 * 60_000;
const FILTER_EXPIRY_MS = 60 * 60_000;
/** The account change log keeps 30 days: a JMAP client or QRESYNC resync older than that starts over. */
const CHANGES_KEEP_MS = 30 * 24 * 60 * 60_000;
const METRICS_FLUSH_MS = 60_000;
/** The dashboard's doctor status: every domain checked a while after the start, then this often. */
const DOCTOR_FIRST_MS = 5 * 60_000;
const DOCTOR_EVERY_MS = 6 * 60 * 60_000;
/** Delayed submissions go out within this of their time ("undo send" waits a few seconds). */
const SCHEDULED_SEND_MS = 1000;

/** Starts the timers; the returned stop() waits for a collection in progress. */
export function startTimers(
  config: Readonly<Config>,
  deps: {
    store: Store;
    dkim: Dkim;
    quarantine: Quarantine;
    metrics: Metrics;
    doctor: Pick<DoctorWatch, 'runAll'>;
    scheduled: Pick<ScheduledSubmissions, 'sendDue'>;
    log: Logger;
  },
): { stop(): Promise<void> } {
  const { store, dkim, quarantine, metrics, doctor, scheduled, log } = deps;
  // Content that expunges and finished queue entries left unreferenced is removed from disk.
  const releasedForMs = config.store.collect_after;
  let collecting: Promise<void> | undefined;
  const collect = () => {
    if (collecting) return;
    const started = Date.now();
    collecting = store
      .collectGarbage({ releasedForMs })
      .then(
        (r) => {
          if (r.blobs + r.orphans === 0) return;
          const fields = { component: 'store', blobs: r.blobs, bytes: r.bytes, orphans: r.orphans };
          log.info({ ...fields, ms: Date.now() - started }, 'removed unreferenced content');
        },
        (err: unknown) => log.warn({ component: 'store', err }, 'removing unreferenced content failed'),
      )
      .finally(() => (collecting = undefined));
  };
  const collector = config.store.collect_interval > 0 ? setInterval(collect, config.store.collect_interval) : undefined;
  collector?.unref();
  // Rotated DKIM keys start signing once DNS shows them.
  const dkimTimer = setInterval(
    () => void dkim.promotePending().catch((err: unknown) => log.warn({ err }, 'DKIM key check failed')),
    DKIM_CHECK_MS,
  );
  dkimTimer.unref();
  // Quarantined mail past [filter] quarantine_keep, greylisting state past [filter.greylist] keep,
  // and the change log past CHANGES_KEEP_MS.
  let expiring: Promise<void> | undefined;
  const expire = () => {
    expiring ??= Promise.all([
      quarantine.expire(),
      store.greylist.expire(new Date(Date.now() - config.filter.greylist.keep)),
      store.changeLog.prune(new Date(Date.now() - CHANGES_KEEP_MS)),
      store.pushSubscriptions.expire(new Date()),
    ])
      .then(
        () => undefined,
        (err: unknown) => log.warn({ err }, 'expiring filter state failed'),
      )
      .finally(() => (expiring = undefined));
  };
  const expiryTimer = setInterval(expire, FILTER_EXPIRY_MS);
  expiryTimer.unref();
  expire();
  const flushMetrics = () =>
    metrics.flush().catch((err: unknown) => log.warn({ err }, 'writing the dashboard counts failed'));
  const metricsTimer = setInterval(() => void flushMetrics(), METRICS_FLUSH_MS);
  metricsTimer.unref();
  const doctorFirst = setTimeout(() => doctor.runAll(), DOCTOR_FIRST_MS);
  doctorFirst.unref();
  const doctorTimer = setInterval(() => doctor.runAll(), DOCTOR_EVERY_MS);
  doctorTimer.unref();
  let sending: Promise<unknown> | undefined;
  const scheduledTimer = setInterval(() => {
    sending = scheduled.sendDue().catch((err: unknown) => log.warn({ err }, 'sending delayed submissions failed'));
  }, SCHEDULED_SEND_MS);
  scheduledTimer.unref();
  return {
    async stop() {
      clearInterval(scheduledTimer);
      await sending;
      clearTimeout(doctorFirst);
      clearInterval(doctorTimer);
      clearInterval(metricsTimer);
      await flushMetrics();
      clearInterval(dkimTimer);
      clearInterval(expiryTimer);
      await expiring;
      clearInterval(collector);
      await collecting;
    },
  };
}
