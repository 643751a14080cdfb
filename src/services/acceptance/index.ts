/**
 * Message acceptance, the one pipeline every way into Postern goes through (SMTP on port 25,
 * submission, LMTP; JMAP submission later): decide, then apply. `decide` reads the envelope, the
 * header and the session facts and returns a verdict for the message — refused with a code and
 * detail, or accepted with its content as it will be stored (header fields added, our stale
 * Authentication-Results removed, DKIM-signed or ARC-sealed, trace fields on top) and the mailbox
 * quarantined mail goes to. `apply` hands the verdict to delivery, which decides per recipient
 * (mailboxes and flags, queue, refusal) and writes everything in one transaction. Content filters
 * and the archive become stages of `decide`.
 */
import type { Logger } from '../../lib/log.js';
import { headerAddresses } from '../../mail/mime/structure.js';
import type { Delivery, RecipientResult } from '../delivery/index.js';
import type { Destination, Directory } from '../directory/index.js';
import type { Dkim } from '../dkim/index.js';
import type { AuthFacts, ContentFilter } from '../filters/index.js';
import type { SenderAuth } from '../sender-auth/index.js';
import {
  applyAuthentication,
  applyContentVerdict,
  checkHeader,
  stripFilterHeaders,
  submissionFields,
  type AcceptMode,
  type CopyDisposition,
  type Refusal,
} from './policy.js';
import { headerValue, type HeaderField } from '../../mail/mime/headers.js';
import type { Metrics } from '../metrics/index.js';

export { type AcceptMode, type Refusal, rfc5322Date } from './policy.js';

export interface AcceptRecipient {
  /** As given in RCPT TO. */
  address: string;
  /** Where the directory resolved it; empty for a remote recipient of a submission. */
  destinations: Destination[];
  /** A remote recipient of an authenticated submission: queued, not delivered here. */
  isRemote: boolean;
  notify?: string | undefined;
  orcpt?: string | undefined;
}

export interface AcceptRequest {
  mode: AcceptMode;
  qid: string;
  /** The message as the client sent it. */
  data: Buffer;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  recipients: AcceptRecipient[];
  envid?: string | undefined;
  ret?: string | undefined;
  client: { ip: string; helo: string };
  /** The authenticated user's address, if the client logged in. */
  user?: string | undefined;
  /** The Received field of this hop, written by the protocol (it knows TLS and the protocol name). */
  received: string;
  log: Logger;
}

/** The message-level verdict of `decide`. */
export type MessageVerdict =
  | { kind: 'refuse'; refusal: Refusal }
  | {
      kind: 'accept';
      content: Buffer;
      folder: string | undefined;
      /** Per recipient (lower-cased RCPT address): its copy filed to Junk or held; absent: as it is. */
      copies?: ReadonlyMap<string, CopyDisposition> | undefined;
    };

export interface AcceptanceDeps {
  hostname: string;
  directory: Pick<Directory, 'ownsAddress'>;
  delivery: Pick<Delivery, 'plan' | 'apply' | 'mayRedirect'>;
  dkim: Pick<Dkim, 'sign' | 'sealingKey'>;
  senderAuth: Pick<SenderAuth, 'check' | 'stripOurResults'>;
  /** Virus scan and spam score; without it, every message is taken as it is. */
  filter?: Pick<ContentFilter, 'check'> | undefined;
  /** The dashboard's counters (received, rejected, spam). */
  metrics?: Pick<Metrics, 'count'> | undefined;
}

export class Acceptance {
  constructor(private readonly deps: AcceptanceDeps) {}

  /** Decide, then apply: refused as a whole, or the per-recipient results of delivery. */
  async accept(
    req: AcceptRequest,
  ): Promise<{ kind: 'refused'; refusal: Refusal } | { kind: 'accepted'; results: RecipientResult[] }> {
    const verdict = await this.decide(req);
    this.deps.metrics?.count(verdict.kind === 'refuse' ? 'rejected' : 'received');
    if (verdict.kind === 'refuse') {
      req.log.warn(
        { qid: req.qid, user: req.user, code: verdict.refusal.code, detail: verdict.refusal.detail },
        verdict.refusal.log,
      );
      return { kind: 'refused', refusal: verdict.refusal };
    }
    return { kind: 'accepted', results: await this.apply(req, verdict) };
  }

  /** The verdict on the message, with its content as it will be stored; nothing is written. */
  async decide(req: AcceptRequest): Promise<MessageVerdict> {
    const header = checkHeader(req.mode, req.data);
    if ('refusal' in header) return { kind: 'refuse', refusal: header.refusal };
    const { head, from } = header.facts;
    let body = req.data;
    let traceHeaders = '';
    let folder: string | undefined;
    let auth: AuthFacts | undefined;
    if (req.mode === 'submission') {
      const signed = await this.submission(req, head);
      if ('refusal' in signed) return { kind: 'refuse', refusal: signed.refusal };
      body = signed.content;
    } else if (req.mode === 'mx') {
      const checked = await this.authenticate(req);
      const outcome = applyAuthentication(checked, from !== undefined);
      if ('refusal' in outcome) return { kind: 'refuse', refusal: outcome.refusal };
      folder = outcome.folder;
      auth = { spf: checked.spf, dmarc: checked.dmarc, dkim: checked.dkim, arc: checked.arc };
      traceHeaders = checked.headers;
      body = checked.content;
    } else {
      body = this.deps.senderAuth.stripOurResults(body);
    }
    const filtered = await this.filter(req, head, from, auth);
    if ('refusal' in filtered) return { kind: 'refuse', refusal: filtered.refusal };
    traceHeaders += filtered.headers;
    // A submission's were removed before it was signed.
    if (req.mode !== 'submission') body = stripFilterHeaders(body);
    const content = Buffer.concat([Buffer.from(`${req.received}\r\n${traceHeaders}`, 'utf8'), body]);
    return { kind: 'accept', content, folder, copies: filtered.copies };
  }

  /** Delivery of an accepted message: planned per recipient, then written in one transaction. */
  async apply(req: AcceptRequest, verdict: Extract<MessageVerdict, { kind: 'accept' }>): Promise<RecipientResult[]> {
    const single = req.mode === 'lmtp' || req.recipients.length === 1;
    const plan = await this.deps.delivery.plan({
      content: verdict.content,
      mailFrom: req.mailFrom,
      qid: req.qid,
      folder: verdict.folder,
      enforceQuota: single,
      canRefuse: single,
      recipients: req.recipients
        .filter((r) => !r.isRemote)
        .map((r) => {
          const copy = verdict.copies?.get(r.address.toLowerCase());
          return { address: r.address, destinations: r.destinations, notify: r.notify, orcpt: r.orcpt, ...copy };
        }),
      outbound: req.recipients
        .filter((r) => r.isRemote)
        .map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
      authUser: req.user,
      envid: req.envid,
      ret: req.ret,
    });
    return this.deps.delivery.apply(plan);
  }

  /**
   * A submission: From and Sender must be addresses the user owns; a missing Message-ID and Date are
   * added (RFC 6409 §8); the result is DKIM-signed with the domain of From (or of the envelope sender).
   */
  private async submission(
    req: AcceptRequest,
    head: HeaderField[],
  ): Promise<{ refusal: Refusal } | { content: Buffer }> {
    const user = req.user;
    if (user === undefined) return { refusal: { code: 'AUTH_FAILED', detail: '', log: 'submission without login' } };
    const fromAddresses = ['from', 'sender'].flatMap((key) => {
      const v = headerValue(head, key);
      return v ? headerAddresses(v) : [];
    });
    for (const a of fromAddresses) {
      if (!(await this.deps.directory.ownsAddress(user, a)))
        return {
          refusal: {
            code: 'SENDER_NOT_OWNED',
            detail: `From: <${a}>`,
            log: 'message refused: From: address not owned',
          },
        };
    }
    let body = stripFilterHeaders(this.deps.senderAuth.stripOurResults(req.data));
    const added = submissionFields(head, this.deps.hostname, new Date());
    if (added.length) body = Buffer.concat([Buffer.from(added.map((h) => h + '\r\n').join(''), 'utf8'), body]);
    const signer = fromAddresses[0] ?? req.mailFrom;
    return { content: await this.deps.dkim.sign(body, signer.slice(signer.lastIndexOf('@') + 1)) };
  }

  /** The content filter stage: every message is scanned for viruses; mail from strangers is also scored as spam. */
  private async filter(
    req: AcceptRequest,
    head: HeaderField[],
    from: string | undefined,
    auth: AuthFacts | undefined,
  ): Promise<{ refusal: Refusal } | { copies: Map<string, CopyDisposition> | undefined; headers: string }> {
    if (!this.deps.filter) return { copies: undefined, headers: '' };
    const accounts = new Map<number, string>();
    const recipients = req.recipients.map((r) => {
      const local = r.destinations.find((d) => d.kind === 'local');
      for (const d of r.destinations) if (d.kind === 'local') accounts.set(d.account.id, d.account.address);
      return { address: r.address, account: local?.account.address };
    });
    const started = performance.now();
    const v = await this.deps.filter.check({
      qid: req.qid,
      data: req.data,
      head,
      scoreSpam: req.user === undefined,
      mailFrom: req.mailFrom,
      client: req.client,
      auth,
      accounts: [...accounts].map(([id, address]) => ({ id, address })),
      recipients,
      fromAddresses: from ? headerAddresses(from) : [],
    });
    req.log.info(
      {
        qid: req.qid,
        ms: Math.round((performance.now() - started) * 10) / 10,
        action: v.action,
        score: v.score,
        symbols: v.symbols.map((s) => s.name),
        virus: v.virus,
        dispositions: v.recipients.filter((r) => r.disposition !== 'inbox').map((r) => `${r.address}:${r.disposition}`),
      },
      'content filter',
    );
    if (v.action !== 'accept' || v.recipients.some((r) => r.disposition !== 'inbox')) this.deps.metrics?.count('spam');
    const outcome = applyContentVerdict(v);
    return 'refusal' in outcome ? outcome : { copies: outcome.copies, headers: v.headers };
  }

  /**
   * Port 25: SPF, DKIM, DMARC and ARC. Mail an alias forwards to another domain is ARC-sealed with the
   * forwarding domain's key; so is mail a recipient's Sieve script may redirect (RFC 8617 §5.1).
   */
  private async authenticate(req: AcceptRequest): ReturnType<SenderAuth['check']> {
    let forwarding = req.recipients.find((r) => r.destinations.some((d) => d.kind === 'remote'));
    for (const r of req.recipients)
      if (!forwarding && (await this.deps.delivery.mayRedirect(r.destinations))) forwarding = r;
    const seal = forwarding
      ? await this.deps.dkim.sealingKey(forwarding.address.slice(forwarding.address.lastIndexOf('@') + 1))
      : undefined;
    const checked = await this.deps.senderAuth.check(
      req.data,
      { ip: req.client.ip, helo: req.client.helo, sender: req.mailFrom },
      seal,
    );
    req.log.info(
      { qid: req.qid, spf: checked.spf, dmarc: checked.dmarc, verdict: checked.verdict },
      'sender authentication',
    );
    return checked;
  }
}
