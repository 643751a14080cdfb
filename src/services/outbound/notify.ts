/**
 * Delivery status notifications to the sender (RFC 3464 reports built by mail/dsn.ts): a bounce for
 * recipients that failed, a delay warning once for those still waiting after delay_warning, each as
 * the recipient's NOTIFY asked (RFC 3461 §4.1). Reports are DKIM-signed and handed to local delivery
 * or the queue like any message from the null sender.
 */
import { newQueueId } from '../../lib/ids.js';
import { buildDsn, type DsnRecipient } from '../../mail/dsn.js';
import type { QueueEntry, QueueOutcome, QueueRecipient } from '../../store/index.js';
import type { OutboundDeps, OutboundOptions } from './options.js';

export class SenderNotices {
  constructor(
    private readonly options: Pick<OutboundOptions, 'hostname' | 'lifetimeMs' | 'delayWarningMs'>,
    private readonly deps: Pick<OutboundDeps, 'store' | 'log' | 'sign' | 'submit'>,
  ) {}

  /** After the outcomes of `recipients` are recorded: reports what the sender asked to hear about. */
  async afterOutcomes(entry: QueueEntry, outcomes: QueueOutcome[], recipients: QueueRecipient[]): Promise<void> {
    const byId = new Map(recipients.map((r) => [r.id, r]));
    const failed = outcomes.filter((o) => o.status === 'failed').map((o) => ({ r: byId.get(o.id)!, o }));
    const toReport = failed.filter(({ r }) => wants(r.notify, 'FAILURE'));
    if (entry.sender && toReport.length) {
      await this.send(
        entry,
        'failure',
        toReport.map(({ r, o }) => ({
          recipient: r.recipient,
          orcpt: r.orcpt,
          diagnostic: o.error ?? 'failed',
          remoteMta: o.remoteMta,
        })),
      );
    }
    if (
      this.options.delayWarningMs > 0 &&
      entry.sender &&
      Date.now() - entry.createdAt.getTime() >= this.options.delayWarningMs
    ) {
      const delayed = outcomes
        .filter((o) => o.status === 'pending')
        .map((o) => ({ r: byId.get(o.id)!, o }))
        .filter(({ r }) => !r.delayNotified && wants(r.notify, 'DELAY'));
      if (delayed.length) {
        await this.send(
          entry,
          'delay',
          delayed.map(({ r, o }) => ({
            recipient: r.recipient,
            orcpt: r.orcpt,
            diagnostic: o.error ?? 'deferred',
            remoteMta: o.remoteMta,
          })),
        );
        await this.deps.store.queue.markDelayNotified(delayed.map(({ r }) => r.id));
      }
    }
  }

  private async send(entry: QueueEntry, kind: 'failure' | 'delay', recipients: DsnRecipient[]): Promise<void> {
    const original = await this.deps.store.blobs.get(entry.blobHash);
    const qid = newQueueId();
    const dsn = buildDsn({
      kind,
      reportingMta: this.options.hostname,
      qid: entry.qid,
      sender: entry.sender,
      envid: entry.envid,
      ret: entry.ret,
      arrivalDate: entry.createdAt,
      willRetryUntil: new Date(entry.createdAt.getTime() + this.options.lifetimeMs),
      recipients,
      original,
    });
    const signed = await this.deps.sign(dsn, this.options.hostname);
    await this.deps.submit({ content: signed, recipient: entry.sender, qid });
    this.deps.log.info(
      { qid: entry.qid, dsn: qid, kind, to: entry.sender },
      kind === 'failure' ? 'bounce sent to the sender' : 'delay warning sent to the sender',
    );
  }
}

/** RFC 3461 §4.1: no NOTIFY means failures (and, as is usual, delays) are reported; NEVER means none. */
function wants(notify: string | null, what: 'FAILURE' | 'DELAY'): boolean {
  if (!notify) return true;
  return notify.toUpperCase().split(',').includes(what);
}
