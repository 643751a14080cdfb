/**
 * Local delivery, shared by SMTP (MX and submission), LMTP and the mail Postern writes itself:
 * recipients were resolved to accounts and remote forwards (services/directory); `plan` decides per
 * recipient — refusals, each account's Sieve placements, flags, redirects and replies — over a message
 * parsed once; `apply` stores the content once and commits one row per mailbox with forwards and
 * redirects queued in the same transaction, then writes the replies. The caller replies 250 only after
 * apply() resolves: by then everything is on disk.
 */
import { MailError } from '../../lib/errors.js';
import { newQueueId } from '../../lib/ids.js';
import type { Destination, Resolution } from '../directory/index.js';
import { commitPlan } from './commit.js';
import { planDelivery } from './plan.js';
import type { DeliveryDeps, DeliveryPlan, InboundMessage, RecipientResult } from './types.js';

export type { DeliveryDeps, DeliveryPlan, InboundMessage, InboundRecipient, RecipientResult } from './types.js';

export class Delivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** RCPT TO time: where the address leads, refused early when the mailbox is already full. `sender`: '' for a bounce. */
  async checkRecipient(address: string, sender: string): Promise<Resolution> {
    const resolution = await this.deps.directory.resolveRecipient(address, { srsSecret: this.deps.srsSecret, sender });
    if (resolution.kind === 'ok') {
      for (const d of resolution.destinations) {
        if (d.kind === 'local' && d.account.quotaBytes > 0 && d.account.usedBytes >= d.account.quotaBytes) {
          throw new MailError('OVER_QUOTA', `mailbox of ${d.address} is full`);
        }
      }
    }
    return resolution;
  }

  /** Decide, writing nothing: a result per recipient, the copies per account and the queue entries. */
  plan(msg: InboundMessage): Promise<DeliveryPlan> {
    return planDelivery(this.deps, msg);
  }

  /** Write a plan in one transaction, then the mail its Sieve scripts asked for; returns its per-recipient results. */
  async apply(plan: DeliveryPlan): Promise<RecipientResult[]> {
    const { msg } = plan;
    if (plan.isLoop) return plan.results;
    await commitPlan(this.deps, plan);
    this.deps.log.info(
      {
        qid: msg.qid,
        from: msg.mailFrom,
        size: msg.content.length,
        authUser: msg.authUser,
        folder: msg.folder,
        mailboxes: [...plan.local.values()].map((l) => l.destination.address),
        forwarded: [...plan.remote.keys()],
        ms: Date.now() - plan.startedAt,
      },
      'delivered',
    );
    await this.sendGenerated(plan);
    return plan.results;
  }

  /** plan() then apply(). */
  async deliver(msg: InboundMessage): Promise<RecipientResult[]> {
    return this.apply(await this.plan(msg));
  }

  /** Written after the commit: a crash here loses an auto-reply, never the message. */
  private async sendGenerated(plan: DeliveryPlan): Promise<void> {
    for (const g of plan.generated) {
      if (g.claim && !(await this.deps.store.sieve.claimResponse(g.claim.accountId, g.claim.key, g.claim.expiresAt))) {
        this.deps.log.debug({ qid: plan.msg.qid, to: g.recipient }, 'no vacation reply: already answered within :days');
        continue;
      }
      const qid = newQueueId();
      const log = { qid, inReplyTo: plan.msg.qid, to: g.recipient, kind: g.kind };
      await (this.deps.sign ? this.deps.sign(g.content, g.signer) : Promise.resolve(g.content))
        .then((content) => this.submitGenerated({ content, recipient: g.recipient, qid }))
        .then(
          () => this.deps.log.info(log, 'sieve reply queued'),
          (err: unknown) => this.deps.log.warn({ ...log, err }, 'sieve reply not sent'),
        );
    }
  }

  /**
   * Hands a message Postern wrote (a bounce, a vacation reply, a reject notice) to local delivery or the
   * queue, from the null sender, as for any other message. It is signed by whoever wrote it.
   */
  async submitGenerated(message: { content: Buffer; recipient: string; qid: string }): Promise<void> {
    const { content, recipient, qid } = message;
    const resolution = await this.checkRecipient(recipient, '').catch(() => undefined);
    if (resolution?.kind === 'ok') {
      await this.deliver({
        content,
        mailFrom: '',
        recipients: [{ address: recipient, destinations: resolution.destinations }],
        enforceQuota: false,
        qid,
      });
    } else if (resolution?.kind === 'not-hosted') {
      await this.deliver({
        content,
        mailFrom: '',
        recipients: [],
        outbound: [{ address: recipient }],
        enforceQuota: false,
        qid,
      });
    } else {
      this.deps.log.warn(
        { qid, to: recipient, reason: resolution?.kind ?? 'error' },
        'notification not delivered: the address does not take mail',
      );
    }
  }

  /** True when mail to these destinations may be redirected elsewhere by a Sieve script (so it is ARC-sealed). */
  async mayRedirect(destinations: Destination[]): Promise<boolean> {
    if (!this.deps.sieve) return false;
    for (const d of destinations) {
      if (d.kind === 'local' && (await this.deps.sieve.active(d.account.id))?.script.usesRedirect) return true;
    }
    return false;
  }
}
