/**
 * Local delivery, shared by SMTP (MX and submission) and LMTP: recipients are resolved to accounts and
 * remote forwards, each account's active Sieve script decides its mailboxes, flags, redirects and
 * replies, the message is parsed once (envelope, body structure, search text), its content stored
 * once, and one row per mailbox committed, with forwards and redirects queued in the same
 * transaction. The caller replies 250 only after deliver() resolves: by then everything is on disk.
 */
import { MailError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { headerValues } from '../../mail/mime/headers.js';
import { isValidMailboxName, levelsToCreate } from '../../mail/mailbox-name.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { searchText } from '../../mail/mime/text.js';
import type { ChangeEvent, MailboxRecord, Store, Tx } from '../../store/index.js';
import { newQueueId } from '../../lib/ids.js';
import { isSrs, srsForward } from '../../mail/srs.js';
import {
  autoReplyRefusal,
  buildRejectNotice,
  buildVacationReply,
  formatMailbox,
  parseMailbox,
} from '../../mail/sieve/replies.js';
import { createHash } from 'node:crypto';
import type { SieveAction, SieveScripts } from '../sieve/index.js';
import { ownsAddress, resolveRecipient, type Destination, type Resolution } from './recipients.js';

export { resolveRecipient, ownsAddress, type Destination, type Resolution } from './recipients.js';

export interface InboundRecipient {
  /** As given in RCPT TO. */
  address: string;
  destinations: Destination[];
  notify?: string | undefined;
  orcpt?: string | undefined;
}

export interface InboundMessage {
  /** The message as stored: trace headers (Received) already prepended. */
  content: Buffer;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  recipients: InboundRecipient[];
  /** Refuse a recipient whose quota this message would exceed (LMTP, or SMTP with one recipient). */
  enforceQuota: boolean;
  qid: string;
  /** Mailbox for local copies (Junk for quarantined mail); INBOX when absent or missing. */
  folder?: string | undefined;
  /** Remote recipients of an authenticated submission, queued in the same transaction. */
  outbound?: Array<{ address: string; notify?: string | undefined; orcpt?: string | undefined }>;
  authUser?: string | undefined;
  envid?: string | undefined;
  ret?: string | undefined;
  /** A Sieve reject may be a protocol refusal (LMTP, or SMTP with one recipient); otherwise a notice is mailed. */
  canRefuse?: boolean | undefined;
}

export type RecipientResult =
  { address: string; status: 'delivered' } | { address: string; status: 'failed'; code: ErrorCode; message: string };

export interface DeliveryDeps {
  store: Store;
  log: Logger;
  maxReceivedHeaders: number;
  /** Key of the SRS addresses given to forwarded mail. */
  srsSecret: Buffer;
  /** Called after something was queued for remote delivery. */
  onQueued?: (() => void) | undefined;
  /** Runs the recipients' active Sieve scripts; without it, mail goes to INBOX. */
  sieve?: SieveScripts | undefined;
  /** DKIM-signs mail Postern writes itself (vacation replies, reject notices) for the domain given. */
  sign?: ((content: Buffer, domain: string) => Promise<Buffer>) | undefined;
  /** Names Postern in the Message-IDs of the mail it writes. */
  hostname?: string | undefined;
}

/** Where one account's copy goes: a mailbox with flags, created first when :create asked for it. */
interface Placement {
  mailbox: string;
  flags: string[];
  create: boolean;
}

type LocalDestination = Extract<Destination, { kind: 'local' }>;

/** An account's copies: its per-recipient header lines and the mailboxes they go to. */
interface LocalCopy {
  destination: LocalDestination;
  prefix: string;
  placements: Placement[];
}

/** A copy for a remote address; a Sieve redirect carries the key that makes it once a day. */
interface RemoteCopy {
  sender: string;
  rcpt: InboundRecipient;
  dedupe?: { accountId: number; key: string } | undefined;
}

const REDIRECT_DEDUPE_MS = 24 * 60 * 60_000;

/** Per-delivery work that Sieve adds: mail to write after the commit. */
interface Generated {
  content: Buffer;
  recipient: string;
  kind: 'vacation' | 'reject';
  /** The domain whose DKIM key signs it: the From address's. */
  signer: string;
  /** Vacation: sent only if no reply to this sender and handle is recorded (RFC 5230 §4.2). */
  claim?: { accountId: number; key: string; expiresAt: Date };
}

export class Delivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** RCPT TO time: where the address leads, refused early when the mailbox is already full. `sender`: '' for a bounce. */
  async checkRecipient(address: string, sender: string): Promise<Resolution> {
    const resolution = await resolveRecipient(this.deps.store, address, { srsSecret: this.deps.srsSecret, sender });
    if (resolution.kind === 'ok') {
      for (const d of resolution.destinations) {
        if (d.kind === 'local' && d.account.quotaBytes > 0 && d.account.usedBytes >= d.account.quotaBytes) {
          throw new MailError('OVER_QUOTA', `mailbox of ${d.address} is full`);
        }
      }
    }
    return resolution;
  }

  async deliver(msg: InboundMessage): Promise<RecipientResult[]> {
    const started = Date.now();
    const parsed = parseMessage(msg.content);
    const received = headerValues(parsed.headers, 'received').length;
    if (received > this.deps.maxReceivedHeaders) {
      this.deps.log.warn({ qid: msg.qid, received }, 'mail loop: too many Received headers');
      return msg.recipients.map((r) => ({
        address: r.address,
        status: 'failed',
        code: 'MAIL_LOOP',
        message: `too many Received headers (${received}): mail loop`,
      }));
    }
    const deliveredTo = new Set(
      headerValues(parsed.headers, 'delivered-to').map((v) => v.toLowerCase().replace(/^<|>$/g, '')),
    );

    const results: RecipientResult[] = [];
    const local = new Map<number, LocalCopy>();
    // Remote destinations by envelope sender: submissions keep the sender, forwards get an SRS one.
    const remote = new Map<string, RemoteCopy>();
    for (const o of msg.outbound ?? [])
      remote.set(o.address, {
        sender: msg.mailFrom,
        rcpt: { address: o.address, destinations: [], notify: o.notify, orcpt: o.orcpt },
      });
    const generated: Generated[] = [];
    const size = msg.content.length;
    let text: string | undefined;
    const textOf = () => (text ??= searchText(msg.content, parsed).body);
    // An account's script runs once per message; a later recipient for the same account shares its outcome.
    const ran = new Map<number, { rejected: string | undefined }>();
    const place = (d: LocalDestination, placement: Placement) => {
      let entry = local.get(d.account.id);
      if (!entry) {
        // RFC 5321 §4.4: Return-Path is added at final delivery; Delivered-To lets a loop be seen.
        entry = {
          destination: d,
          prefix: `Return-Path: <${msg.mailFrom}>\r\nDelivered-To: ${d.address}\r\n`,
          placements: [],
        };
        local.set(d.account.id, entry);
      }
      const same = (name: string) => (name.toUpperCase() === 'INBOX' ? 'INBOX' : name);
      if (!entry.placements.some((p) => same(p.mailbox) === same(placement.mailbox))) entry.placements.push(placement);
    };
    for (const r of msg.recipients) {
      const failure = this.refusal(r, deliveredTo, size, msg.enforceQuota);
      if (failure) {
        results.push({ address: r.address, status: 'failed', ...failure });
        continue;
      }
      // This recipient's share, kept only if its scripts do not refuse the message (RFC 5429 §2.1.1).
      const mine = {
        placements: [] as Array<[LocalDestination, Placement]>,
        remote: [] as RemoteCopy[],
        generated: [] as Generated[],
      };
      let rejected: string | undefined;
      for (const d of r.destinations) {
        if (d.kind === 'remote') {
          const forwarder = r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase();
          const sender =
            msg.mailFrom === '' || isSrs(msg.mailFrom)
              ? msg.mailFrom
              : srsForward(msg.mailFrom, forwarder, this.deps.srsSecret);
          mine.remote.push({
            sender,
            rcpt: { address: d.address, destinations: [], notify: r.notify, orcpt: r.orcpt ?? `rfc822;${r.address}` },
          });
          continue;
        }
        const earlier = ran.get(d.account.id);
        if (earlier) {
          rejected ??= earlier.rejected;
          continue;
        }
        const outcome = await this.runSieve(msg, parsed, r, d, textOf);
        ran.set(d.account.id, { rejected: outcome?.reject });
        if (!outcome) {
          mine.placements.push([d, { mailbox: msg.folder ?? 'INBOX', flags: [], create: false }]);
          continue;
        }
        for (const p of outcome.placements) mine.placements.push([d, p]);
        mine.generated.push(...outcome.generated);
        for (const address of outcome.redirects) {
          const redirected = await this.redirectTarget(address, r.address, msg.mailFrom);
          if (redirected.kind === 'failed') {
            // The address took no mail: keep the message rather than lose it.
            this.deps.log.warn(
              { qid: msg.qid, to: d.address, redirect: address, reason: redirected.reason },
              'sieve redirect failed; keeping the message',
            );
            mine.placements.push([d, { mailbox: 'INBOX', flags: [], create: false }]);
            continue;
          }
          for (const target of redirected.local) {
            const full = target.account.quotaBytes > 0 && target.account.usedBytes + size > target.account.quotaBytes;
            if (deliveredTo.has(target.address) || full) {
              // A loop, or no room: the message stays with the account whose script redirected it.
              this.deps.log.warn(
                { qid: msg.qid, to: d.address, redirect: target.address, reason: full ? 'over quota' : 'loop' },
                'sieve redirect not done; keeping the message',
              );
              mine.placements.push([d, { mailbox: 'INBOX', flags: [], create: false }]);
              continue;
            }
            mine.placements.push([target, { mailbox: 'INBOX', flags: [], create: false }]);
          }
          // Pigeonhole's duplicate check: one redirect of a Message-ID to an address per day, so two
          // accounts redirecting to each other stop at once instead of at the hop limit.
          const messageId = headerValues(parsed.headers, 'message-id')[0];
          for (const rcpt of redirected.remote) {
            const dedupe = messageId
              ? {
                  accountId: d.account.id,
                  key: createHash('sha256')
                    .update(`redirect\u0000${messageId}\u0000${rcpt.address.toLowerCase()}`)
                    .digest('hex'),
                }
              : undefined;
            mine.remote.push({ sender: redirected.sender, rcpt, dedupe });
          }
        }
        if (outcome.reject !== undefined) {
          if (msg.canRefuse) {
            rejected = outcome.reject;
          } else {
            const notice = this.rejectNotice(msg, parsed, d, outcome.reject);
            if (notice) mine.generated.push(notice);
          }
        }
      }
      if (rejected !== undefined) {
        // RFC 5429 §2.1.1: refused in the protocol with the script's reason; nothing of this recipient's is kept.
        results.push({ address: r.address, status: 'failed', code: 'POLICY_REJECTED', message: oneLine(rejected) });
        continue;
      }
      for (const [d, p] of mine.placements) place(d, p);
      for (const x of mine.remote) if (!remote.has(x.rcpt.address)) remote.set(x.rcpt.address, x);
      generated.push(...mine.generated);
      results.push({ address: r.address, status: 'delivered' });
    }
    if (local.size > 0 || remote.size > 0) await this.commit(msg, parsed, local, remote);
    this.deps.log.info(
      {
        qid: msg.qid,
        from: msg.mailFrom,
        size,
        authUser: msg.authUser,
        folder: msg.folder,
        mailboxes: [...local.values()].map((l) => l.destination.address),
        forwarded: [...remote.keys()],
        ms: Date.now() - started,
      },
      'delivered',
    );
    for (const g of generated) {
      // Written after the commit: a crash here loses an auto-reply, never the message.
      if (g.claim && !(await this.deps.store.sieve.claimResponse(g.claim.accountId, g.claim.key, g.claim.expiresAt))) {
        this.deps.log.debug({ qid: msg.qid, to: g.recipient }, 'no vacation reply: already answered within :days');
        continue;
      }
      const qid = newQueueId();
      await (this.deps.sign ? this.deps.sign(g.content, g.signer) : Promise.resolve(g.content))
        .then((content) => this.submitGenerated({ content, recipient: g.recipient, qid }))
        .then(
          () => this.deps.log.info({ qid, inReplyTo: msg.qid, to: g.recipient, kind: g.kind }, 'sieve reply queued'),
          (err: unknown) =>
            this.deps.log.warn({ qid, inReplyTo: msg.qid, to: g.recipient, kind: g.kind, err }, 'sieve reply not sent'),
        );
    }
    return results;
  }

  /** One transaction: every mailbox copy, the full-text entry, and the queue entries for remote recipients. */
  private async commit(
    msg: InboundMessage,
    parsed: ReturnType<typeof parseMessage>,
    local: Map<number, LocalCopy>,
    remote: Map<string, RemoteCopy>,
  ): Promise<void> {
    const doc = local.size ? searchText(msg.content, parsed) : undefined;
    const internalDate = new Date();
    const events: Array<Omit<Extract<ChangeEvent, { type: 'added' }>, never>> = [];
    // The content is held from collection until the transaction referencing it has committed.
    await this.deps.store.blobs.withContent(msg.content, (blob) =>
      this.deps.store.transaction(async (tx) => {
        for (const { destination, prefix, placements } of local.values()) {
          const accountId = destination.account.id;
          const inbox = await tx.mailboxes.get(accountId, 'INBOX');
          if (!inbox) throw new MailError('MAILBOX_NOT_FOUND', `account ${destination.account.address} has no INBOX`);
          for (const placement of placements) {
            const box = await this.mailboxFor(tx, accountId, placement, inbox, msg.qid);
            const m = await tx.messages.append(box.id, {
              blobHash: blob.hash,
              size: blob.size + Buffer.byteLength(prefix),
              internalDate,
              flags: placement.flags,
              envelope: parsed.envelope,
              envelopeWire: parsed.envelopeWire,
              bodyStructure: parsed.structure,
              headerPrefix: prefix,
            });
            const event = { type: 'added' as const, accountId, mailboxId: box.id, uid: m.uid, modseq: m.modseq };
            tx.notify(event);
            events.push(event);
          }
        }
        if (doc) await tx.fulltext.index(blob.hash, doc);
        const bySender = new Map<string, InboundRecipient[]>();
        for (const { sender, rcpt, dedupe } of remote.values()) {
          // In the transaction: the redirect is recorded exactly when it is queued.
          if (
            dedupe &&
            !(await tx.sieve.claimResponse(dedupe.accountId, dedupe.key, new Date(Date.now() + REDIRECT_DEDUPE_MS)))
          ) {
            this.deps.log.info(
              { qid: msg.qid, redirect: rcpt.address },
              'sieve redirect of this message already done today: not repeated',
            );
            continue;
          }
          bySender.set(sender, [...(bySender.get(sender) ?? []), rcpt]);
        }
        let first = local.size === 0;
        for (const [sender, rcpts] of bySender) {
          await tx.queue.add({
            qid: first ? msg.qid : newQueueId(),
            blobHash: blob.hash,
            sender,
            size: blob.size,
            authUser: msg.authUser ?? null,
            envid: msg.envid ?? null,
            ret: msg.ret ?? null,
            recipients: rcpts.map((r) => ({ recipient: r.address, notify: r.notify ?? null, orcpt: r.orcpt ?? null })),
          });
          first = false;
        }
      }),
    );
    if (remote.size) this.deps.onQueued?.();
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

  private get hostname(): string {
    return this.deps.hostname ?? 'localhost';
  }

  /** The account's Sieve script turned into placements, redirects, a reject reason and mail to write. */
  private async runSieve(
    msg: InboundMessage,
    parsed: ReturnType<typeof parseMessage>,
    r: InboundRecipient,
    d: LocalDestination,
    text: () => string,
  ): Promise<
    { placements: Placement[]; redirects: string[]; reject: string | undefined; generated: Generated[] } | undefined
  > {
    const sieve = this.deps.sieve;
    if (!sieve) return undefined;
    const accountId = d.account.id;
    const mailboxes = async () => new Set((await this.deps.store.mailboxes.list(accountId)).map((b) => b.name));
    const result = await sieve.evaluate(accountId, {
      content: msg.content,
      parsed,
      envelope: { from: msg.mailFrom, to: r.address },
      mailboxes,
      text,
    });
    if (!result) return undefined;
    const out = {
      placements: [] as Placement[],
      redirects: [] as string[],
      reject: undefined as string | undefined,
      generated: [] as Generated[],
    };
    for (const action of result.actions) {
      switch (action.type) {
        case 'keep':
          out.placements.push({ mailbox: msg.folder ?? 'INBOX', flags: action.flags, create: false });
          break;
        case 'fileinto':
          out.placements.push({ mailbox: action.mailbox, flags: action.flags, create: action.create });
          break;
        case 'redirect':
          out.redirects.push(action.address);
          break;
        case 'discard':
          break;
        case 'reject':
          out.reject = action.reason;
          break;
        case 'vacation': {
          const reply = await this.vacation(msg, parsed, r, d, action);
          if (reply) out.generated.push(reply);
          break;
        }
      }
    }
    this.deps.log.info(
      { qid: msg.qid, to: d.address, script: result.script, actions: result.actions.map((a) => a.type) },
      'sieve',
    );
    return out;
  }

  /**
   * RFC 5230: a reply, unless the message is one no one should answer. Whether this sender had one
   * within :days is asked after the commit (claim), so a failed delivery does not use up the reply.
   */
  private async vacation(
    msg: InboundMessage,
    parsed: ReturnType<typeof parseMessage>,
    r: InboundRecipient,
    d: LocalDestination,
    action: Extract<SieveAction, { type: 'vacation' }>,
  ): Promise<Generated | undefined> {
    const own = [d.address, r.address, ...action.addresses];
    const refusal =
      msg.folder === 'Junk' ? 'spam' : autoReplyRefusal(parsed.headers, msg.mailFrom, own, { addressed: true });
    if (refusal) {
      this.deps.log.debug({ qid: msg.qid, to: d.address, reason: refusal }, 'no vacation reply');
      return undefined;
    }
    const key = createHash('sha256').update(`${msg.mailFrom.toLowerCase()}\u0000${action.handle}`).digest('hex');
    // RFC 5230 §4.3 :from: one mailbox the account may send as; otherwise the address the mail came to
    // when the account may send as it, else the account's own.
    const asked = action.from === undefined ? undefined : parseMailbox(action.from);
    let from: { name: string; address: string } = { name: '', address: d.address };
    if (asked && (await ownsAddress(this.deps.store, d.address, asked.address))) from = asked;
    else if (r.address.toLowerCase() !== d.address && (await ownsAddress(this.deps.store, d.address, r.address)))
      from = { name: '', address: r.address };
    if (action.from !== undefined && from !== asked)
      this.deps.log.warn(
        { qid: msg.qid, to: d.address },
        'vacation :from is not an address of the account; replying from the account',
      );
    const content = buildVacationReply(action, {
      headers: parsed.headers,
      from: formatMailbox(from),
      to: msg.mailFrom,
      hostname: this.hostname,
    });
    return {
      kind: 'vacation',
      recipient: msg.mailFrom,
      content,
      signer: from.address.slice(from.address.lastIndexOf('@') + 1).toLowerCase(),
      claim: { accountId: d.account.id, key, expiresAt: new Date(Date.now() + action.days * 86_400_000) },
    };
  }

  /** RFC 5429 §2.1.1: the notice of a reject that could not be a refusal; none to robots, lists or spam (backscatter). */
  private rejectNotice(
    msg: InboundMessage,
    parsed: ReturnType<typeof parseMessage>,
    d: LocalDestination,
    reason: string,
  ): Generated | undefined {
    const refusal =
      msg.folder === 'Junk'
        ? 'spam'
        : autoReplyRefusal(parsed.headers, msg.mailFrom, [d.address], { addressed: false });
    if (refusal) {
      this.deps.log.info({ qid: msg.qid, to: d.address, reason: refusal }, 'sieve reject: no notice sent');
      return undefined;
    }
    const headers = { fields: parsed.headers };
    return {
      kind: 'reject',
      recipient: msg.mailFrom,
      signer: d.account.domain,
      content: buildRejectNotice({
        headers,
        reason,
        recipient: d.address,
        sender: msg.mailFrom,
        hostname: this.hostname,
      }),
    };
  }

  /** Where a Sieve redirect goes: local accounts, or a remote address with an SRS sender (RFC 5228 §4.2). */
  private async redirectTarget(
    address: string,
    via: string,
    mailFrom: string,
  ): Promise<
    | { kind: 'failed'; reason: string }
    | { kind: 'ok'; local: LocalDestination[]; remote: InboundRecipient[]; sender: string }
  > {
    const resolution = await resolveRecipient(this.deps.store, address, {
      srsSecret: this.deps.srsSecret,
      sender: mailFrom,
    });
    const forwarder = via.slice(via.lastIndexOf('@') + 1).toLowerCase();
    const sender = mailFrom === '' || isSrs(mailFrom) ? mailFrom : srsForward(mailFrom, forwarder, this.deps.srsSecret);
    const orcpt = `rfc822;${via}`;
    if (resolution.kind === 'not-hosted')
      return { kind: 'ok', local: [], remote: [{ address, destinations: [], orcpt }], sender };
    if (resolution.kind !== 'ok') return { kind: 'failed', reason: resolution.kind };
    return {
      kind: 'ok',
      sender,
      local: resolution.destinations.filter((x): x is LocalDestination => x.kind === 'local'),
      remote: resolution.destinations
        .filter((x) => x.kind === 'remote')
        .map((x) => ({ address: x.address, destinations: [], orcpt })),
    };
  }

  /** The mailbox of a placement; INBOX when it does not exist and may not be created (Dovecot's lda_mailbox_autocreate=no). */
  private async mailboxFor(
    tx: Tx,
    accountId: number,
    placement: Placement,
    inbox: MailboxRecord,
    qid: string,
  ): Promise<MailboxRecord> {
    const name = placement.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : placement.mailbox;
    if (name === 'INBOX') return inbox;
    const existing = await tx.mailboxes.get(accountId, name);
    if (existing) return existing;
    if (placement.create && isValidMailboxName(name)) {
      // RFC 5490 §3.2 :create, with the parents a name needs (RFC 9051 §6.3.4), within the account's mailbox limit.
      const levels = levelsToCreate(
        (await tx.mailboxes.list(accountId)).map((b) => b.name),
        name,
      );
      if (levels) {
        let created: MailboxRecord | undefined;
        for (const level of levels) {
          created = await tx.mailboxes.create(accountId, level);
          tx.notify({ type: 'mailbox', accountId, mailboxId: created.id, change: 'created' });
        }
        if (created) return created;
      } else {
        this.deps.log.warn(
          { qid, accountId, mailbox: name },
          'sieve fileinto :create: the account has too many mailboxes; delivered to INBOX',
        );
        return inbox;
      }
    }
    this.deps.log.warn({ qid, accountId, mailbox: name }, 'sieve fileinto: mailbox does not exist; delivered to INBOX');
    return inbox;
  }

  private refusal(
    r: InboundRecipient,
    deliveredTo: Set<string>,
    size: number,
    enforceQuota: boolean,
  ): { code: ErrorCode; message: string } | undefined {
    for (const d of r.destinations) {
      if (d.kind !== 'local') continue;
      if (deliveredTo.has(d.address))
        return { code: 'MAIL_LOOP', message: `Delivered-To: ${d.address} already present: mail loop` };
      const a = d.account;
      if (enforceQuota && a.quotaBytes > 0 && a.usedBytes + size > a.quotaBytes)
        return { code: 'OVER_QUOTA', message: `mailbox of ${d.address} is full` };
    }
    return undefined;
  }
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .trim()
    .slice(0, 400);
}
