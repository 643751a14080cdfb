/**
 * Submissions that wait (JMAP's EmailSubmission with FUTURERELEASE, RFC 4865: "send later", and the
 * few seconds of "undo send"): kept in the store as pending until their send time, cancelable until
 * then, and sent by `sendDue` — run every second — through the same Submitter as an immediate one.
 * A submission is marked sent after it went out: a crash between the two sends it again rather than
 * never (the receiving side sees the same Message-ID twice at worst).
 */
import type { Logger } from '../../lib/log.js';
import type { SubmissionRecord, Store } from '../../store/index.js';
import type { Mailboxes } from '../mailboxes/index.js';
import { deliveryStatusOf, type Submitter } from './submit.js';

/** Submissions sent per run at most; the rest wait for the next second. */
const BATCH = 50;

export class ScheduledSubmissions {
  private running: Promise<number> | undefined;

  constructor(
    private readonly deps: {
      store: Store;
      submitter: Submitter;
      mailboxes: Pick<Mailboxes, 'content'>;
      log: Logger;
    },
  ) {}

  /** Sends the submissions whose time has come; one run at a time. Returns how many were handled. */
  sendDue(now = new Date()): Promise<number> {
    this.running ??= this.run(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(now: Date): Promise<number> {
    const due = await this.deps.store.submissions.due(now, BATCH);
    for (const s of due) await this.send(s);
    return due.length;
  }

  private async send(s: SubmissionRecord): Promise<void> {
    const log = this.deps.log.child({ submission: s.id });
    const account = await this.deps.store.accounts.byId(s.accountId);
    const [email] = await this.deps.store.emails.byIds(s.accountId, [s.emailId]);
    const fail = async (why: string) => {
      log.warn({ account: account?.address, why }, 'a delayed submission was not sent');
      await this.deps.store.submissions.finish(s.id, {
        qid: '',
        deliveryStatus: Object.fromEntries(
          s.envelope.rcptTo.map((r) => [r, { smtpReply: `554 5.0.0 ${why}`, delivered: 'no' as const }]),
        ),
      });
    };
    if (!account || !email) return fail('the email or its account was removed before its send time');
    try {
      const r = await this.deps.submitter.submit({
        user: account.address,
        content: await this.deps.mailboxes.content(email),
        mailFrom: s.envelope.mailFrom,
        rcptTo: s.envelope.rcptTo,
        client: { ip: s.clientIp || '127.0.0.1' },
        via: 'JMAP',
        log,
      });
      if (r.kind === 'forbiddenMailFrom') return await fail('the envelope sender is no longer the account\u2019s');
      if (r.kind === 'invalidRecipients') return await fail(`no such recipients: ${r.recipients.join(', ')}`);
      await this.deps.store.submissions.finish(s.id, {
        qid: r.qid,
        deliveryStatus: deliveryStatusOf(s.envelope.rcptTo, r.results),
      });
      log.info({ account: account.address, qid: r.qid }, 'delayed submission sent');
    } catch (err) {
      await fail(err instanceof Error ? err.message : 'the message was refused');
    }
  }
}
