/**
 * A submission that does not come over SMTP (JMAP's EmailSubmission, RFC 8621 §7): the checks port
 * 587 makes at MAIL FROM and RCPT TO — the message no larger than [limits] max_message_size, the
 * envelope sender must be the user's, a hosted recipient
 * must exist, any other is relayed because the user logged in — then the one acceptance pipeline
 * (From and Sender owned, Message-ID and Date added, DKIM-signed, virus-scanned) and delivery or
 * the outbound queue. Bcc fields are removed first (RFC 8621 §7.5).
 */
import { MailError } from '../../lib/errors.js';
import { newQueueId } from '../../lib/ids.js';
import type { Logger } from '../../lib/log.js';
import { headerEnd } from '../../mail/mime/headers.js';
import type { Delivery, RecipientResult } from '../delivery/index.js';
import type { SubmissionRecord } from '../../store/index.js';
import type { Directory } from '../directory/index.js';
import { rfc5322Date, type Acceptance, type AcceptRecipient } from './index.js';

export interface SubmitRequest {
  /** The logged-in account's address. */
  user: string;
  content: Buffer;
  mailFrom: string;
  rcptTo: string[];
  client: { ip: string };
  /** How it came: named in the Received field ("JMAP"). */
  via: string;
  log: Logger;
}

export type SubmitResult =
  | { kind: 'accepted'; qid: string; results: RecipientResult[] }
  /** Recipients that are refused before anything is sent: the address is bad or unknown here. */
  | { kind: 'invalidRecipients'; recipients: string[] }
  /** The envelope sender is not the user's. */
  | { kind: 'forbiddenMailFrom' };

/** At most this many recipients in one submission (Postfix's smtpd_recipient_limit is 1000). */
export const MAX_SUBMIT_RECIPIENTS = 1000;

export class Submitter {
  constructor(
    private readonly deps: {
      acceptance: Pick<Acceptance, 'accept'>;
      delivery: Pick<Delivery, 'checkRecipient'>;
      directory: Pick<Directory, 'ownsAddress'>;
      hostname: string;
      /** [limits] max_message_size: the largest message port 587 takes. */
      maxMessageBytes: number;
    },
  ) {}

  /**
   * What the port-587 dialogue would refuse before DATA: a foreign envelope sender, recipients that
   * do not exist here (anything not hosted is relayed: the user logged in). Sends nothing.
   */
  async check(
    req: Pick<SubmitRequest, 'user' | 'mailFrom' | 'rcptTo'> & { size: number },
  ): Promise<{ kind: 'ok'; recipients: AcceptRecipient[] } | Exclude<SubmitResult, { kind: 'accepted' }>> {
    // RFC 1870: what SIZE would refuse at MAIL FROM on port 587.
    if (req.size > this.deps.maxMessageBytes)
      throw new MailError(
        'MESSAGE_TOO_BIG',
        `the message is ${req.size} bytes; this server takes at most ${this.deps.maxMessageBytes}`,
      );
    if (req.rcptTo.length === 0) throw new MailError('INVALID_INPUT', 'a submission needs at least one recipient');
    if (req.rcptTo.length > MAX_SUBMIT_RECIPIENTS)
      throw new MailError('LIMIT_REACHED', `at most ${MAX_SUBMIT_RECIPIENTS} recipients in one submission`);
    if (req.mailFrom && !(await this.deps.directory.ownsAddress(req.user, req.mailFrom)))
      return { kind: 'forbiddenMailFrom' };
    const recipients: AcceptRecipient[] = [];
    const invalid: string[] = [];
    for (const address of new Set(req.rcptTo)) {
      const r = await this.deps.delivery.checkRecipient(address, req.mailFrom);
      if (r.kind === 'ok') recipients.push({ address, destinations: r.destinations, isRemote: false });
      else if (r.kind === 'not-hosted') recipients.push({ address, destinations: [], isRemote: true });
      else invalid.push(address);
    }
    if (invalid.length) return { kind: 'invalidRecipients', recipients: invalid };
    return { kind: 'ok', recipients };
  }

  /** Checks, then sends; throws the pipeline's refusal (its code: SENDER_NOT_OWNED for a foreign From). */
  async submit(req: SubmitRequest): Promise<SubmitResult> {
    const checked = await this.check({ ...req, size: req.content.length });
    if (checked.kind !== 'ok') return checked;
    const qid = newQueueId();
    const outcome = await this.deps.acceptance.accept({
      mode: 'submission',
      qid,
      data: withoutBcc(req.content),
      mailFrom: req.mailFrom,
      recipients: checked.recipients,
      client: { ip: req.client.ip, helo: '' },
      user: req.user,
      received: [
        `Received: from [${req.client.ip}]`,
        `\tby ${this.deps.hostname} (Postern) with ${req.via} id ${qid}`,
        `\t(Authenticated sender: ${req.user});`,
        `\t${rfc5322Date(new Date())}`,
      ].join('\r\n'),
      log: req.log,
    });
    if (outcome.kind === 'refused')
      throw new MailError(outcome.refusal.code, outcome.refusal.detail || outcome.refusal.log);
    return { kind: 'accepted', qid, results: outcome.results };
  }
}

/** Each recipient's outcome as a submission keeps it: delivered here, refused here, or queued for elsewhere. */
export function deliveryStatusOf(rcptTo: string[], results: RecipientResult[]): SubmissionRecord['deliveryStatus'] {
  const byAddress = new Map(results.map((x) => [x.address.toLowerCase(), x]));
  const status: SubmissionRecord['deliveryStatus'] = {};
  for (const to of rcptTo) {
    const local = byAddress.get(to.toLowerCase());
    status[to] = !local
      ? { smtpReply: '250 2.0.0 queued for delivery', delivered: 'queued' }
      : local.status === 'delivered'
        ? { smtpReply: '250 2.0.0 delivered', delivered: 'yes' }
        : { smtpReply: `550 5.0.0 ${local.message}`, delivered: 'no' };
  }
  return status;
}

/** The message without its Bcc fields (and their folded lines). */
export function withoutBcc(content: Buffer): Buffer {
  const end = headerEnd(content);
  const head = content.subarray(0, end).toString('latin1');
  const kept = head.replace(/^bcc[ \t]*:.*\r?\n(?:[ \t].*\r?\n)*/gim, '');
  return kept.length === head.length ? content : Buffer.concat([Buffer.from(kept, 'latin1'), content.subarray(end)]);
}
