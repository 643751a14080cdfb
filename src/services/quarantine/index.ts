/**
 * The quarantine: messages the content filter held for a recipient (a score from quarantine_score, or
 * a recipient whose thresholds or block list refused what the others took). Held copies are listed,
 * shown, released into the recipient's mailbox (delivered as they would have been, Sieve included),
 * deleted, and deleted when they expire ([filter] quarantine_keep). The CLI and the admin API both
 * call this service.
 */
import { MailError } from '../../lib/errors.js';
import { newQueueId } from '../../lib/ids.js';
import type { Logger } from '../../lib/log.js';
import type { QuarantinedMessage, Store } from '../../store/index.js';
import type { Delivery } from '../delivery/index.js';

export class Quarantine {
  constructor(
    private readonly deps: {
      store: Store;
      delivery: Pick<Delivery, 'checkRecipient' | 'deliver'>;
      log: Logger;
    },
  ) {}

  list(options: { domain?: string; limit?: number } = {}): Promise<QuarantinedMessage[]> {
    return this.deps.store.quarantine.list({
      ...(options.domain ? { recipientDomain: options.domain } : {}),
      ...(options.limit ? { limit: options.limit } : {}),
    });
  }

  async show(id: number): Promise<{ entry: QuarantinedMessage; content: Buffer }> {
    const entry = await this.existing(id);
    const content = await this.deps.store.quarantine.content(id);
    if (!content) throw notFound(id);
    return { entry, content };
  }

  /**
   * Delivers the held copy to its recipient (INBOX, or where the recipient's Sieve script files it),
   * then removes it from the quarantine: a crash between the two delivers it twice, never not at all.
   */
  async release(id: number): Promise<QuarantinedMessage> {
    const { entry, content } = await this.show(id);
    const resolution = await this.deps.delivery.checkRecipient(entry.recipient, entry.mailFrom);
    if (resolution.kind !== 'ok')
      throw new MailError('NOT_FOUND', `${entry.recipient} is no longer a recipient here; delete the message instead`);
    const qid = newQueueId();
    const [result] = await this.deps.delivery.deliver({
      content,
      mailFrom: entry.mailFrom,
      recipients: [{ address: entry.recipient, destinations: resolution.destinations }],
      enforceQuota: false,
      qid,
    });
    if (result?.status === 'failed') throw new MailError(result.code, `${entry.recipient}: ${result.message}`);
    await this.deps.store.quarantine.remove(id);
    this.deps.log.info({ qid, held: entry.qid, id, recipient: entry.recipient }, 'quarantined message released');
    return entry;
  }

  async delete(id: number): Promise<QuarantinedMessage> {
    const entry = await this.existing(id);
    await this.deps.store.quarantine.remove(id);
    this.deps.log.info({ held: entry.qid, id, recipient: entry.recipient }, 'quarantined message deleted');
    return entry;
  }

  /** Deletes what is past its keeping time. */
  async expire(now = new Date()): Promise<number> {
    const n = await this.deps.store.quarantine.expire(now);
    if (n) this.deps.log.info({ count: n }, 'expired quarantined messages deleted');
    return n;
  }

  private async existing(id: number): Promise<QuarantinedMessage> {
    const entry = await this.deps.store.quarantine.get(id);
    if (!entry) throw notFound(id);
    return entry;
  }
}

function notFound(id: number): MailError {
  return new MailError('NOT_FOUND', `no quarantined message ${id} (see "postern quarantine list")`);
}
