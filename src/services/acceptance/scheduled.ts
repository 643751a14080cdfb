/**
 * Submissions that wait (JMAP's EmailSubmission with FUTURERELEASE, RFC 4865: "send later", and the
 * few seconds of "undo send"): kept in the store as pending until their send time, cancelable until
 * then, and sent by `sendDue` — run every second — through the same Submitter as an immediate one.
 * The message is kept with the submission when it is made (the email may be moved or deleted while
 * it waits). A submission is claimed before it is sent (a cancel after that is refused) and marked
 * sent after it went out: one left claimed by a crash is sent again at the next start rather than
 * never (the receiving side sees the same Message-ID twice at worst). A temporary refusal (a scanner
 * down, the queue busy) is tried again a minute later.
 */
import { isMailError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { SubmissionRecord, Store } from '../../store/index.js';
import { deliveryStatusOf, type Submitter } from './submit.js';

/** Submissions sent per run at most; the rest wait for the next second. */
const BATCH = 50;
/** A temporary refusal is tried again after this. */
const RETRY_MS = 60_000;

export class ScheduledSubmissions {
  private running: Promise<number> | undefined;
  private started = false;

  constructor(
    private readonly deps: {
      store: Store;
      submitter: Submitter;
      log: Logger;
    },
  ) {}

  /** Sends the submissions whose time has come; one run at a time. Returns how many were handled. */
  sendDue(now = new Date()): Promise<number> {
    this.running ??= this.run(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(now: Date): Promise<number> {
    if (!this.started) {
      this.started = true;
      const interrupted = await this.deps.store.submissions.unclaimAll();
      if (interrupted) this.deps.log.warn({ interrupted }, 'delayed submissions interrupted by a stop are sent again');
    }
    const due = await this.deps.store.submissions.due(now, BATCH);
    let sent = 0;
    for (const s of due) if (await this.deps.store.submissions.claim(s.id)) sent += (await this.send(s), 1);
    return sent;
  }

  private async send(s: SubmissionRecord): Promise<void> {
    const log = this.deps.log.child({ submission: s.id });
    const account = await this.deps.store.accounts.byId(s.accountId);
    const content = await this.deps.store.submissions.content(s.id);
    const fail = async (why: string) => {
      log.warn({ account: account?.address, why }, 'a delayed submission was not sent');
      await this.deps.store.submissions.finish(s.id, {
        qid: '',
        deliveryStatus: Object.fromEntries(
          s.envelope.rcptTo.map((r) => [r, { smtpReply: `554 5.0.0 ${why}`, delivered: 'no' as const }]),
        ),
      });
    };
    if (!account || !account.isEnabled) return fail('the account was removed or disabled before the send time');
    if (!content) return fail('the message was not kept');
    try {
      const r = await this.deps.submitter.submit({
        user: account.address,
        content,
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
      if (isMailError(err) && TEMPORARY.has(err.code)) {
        log.warn(
          { account: account.address, err: err.message },
          'a delayed submission was refused for now: tried again later',
        );
        await this.deps.store.submissions.retry(s.id, new Date(Date.now() + RETRY_MS));
        return;
      }
      await fail(err instanceof Error ? err.message : 'the message was refused');
    }
  }
}

/** Refusals that may pass later. */
const TEMPORARY = new Set<ErrorCode>(['TEMPORARY', 'POLICY_TEMPFAIL', 'GREYLISTED', 'OVER_QUOTA']);
