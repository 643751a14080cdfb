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
import { parseMessage } from '../../mail/mime/structure.js';
import { searchText } from '../../mail/mime/text.js';
import type { ChangeEvent, MailboxRecord, Store, Tx } from '../../store/index.js';
import { newQueueId } from '../../lib/ids.js';
import { isSrs, srsForward } from '../../mail/srs.js';
import { buildRejectNotice, buildVacationReply, vacationRefusal } from '../../mail/sieve/replies.js';
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
  | { address: string; status: 'delivered' }
  | { address: string; status: 'failed'; code: ErrorCode; message: string };

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

/** Per-delivery work that Sieve adds: mail to write after the commit. */
interface Generated {
  content: Buffer;
  recipient: string;
  kind: 'vacation' | 'reject';
  /** The domain whose DKIM key signs it: the From address's. */
  signer: string;
}

export class Delivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** RCPT TO time: where the address leads, refused early when the mailbox is already full. */
  async checkRecipient(address: string): Promise<Resolution> {
    const resolution = await resolveRecipient(this.deps.store, address, { srsSecret: this.deps.srsSecret });
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
      return msg.recipients.map((r) => ({ address: r.address, status: 'failed', code: 'MAIL_LOOP', message: `too many Received headers (${received}): mail loop` }));
    }
    const deliveredTo = new Set(headerValues(parsed.headers, 'delivered-to').map((v) => v.toLowerCase().replace(/^<|>$/g, '')));

    const results: RecipientResult[] = [];
    const local = new Map<number, { destination: LocalDestination; prefix: string; placements: Placement[] }>();
    // Remote destinations by envelope sender: submissions keep the sender, forwards get an SRS one.
    const remote = new Map<string, { sender: string; rcpt: InboundRecipient }>();
    for (const o of msg.outbound ?? []) remote.set(o.address, { sender: msg.mailFrom, rcpt: { address: o.address, destinations: [], notify: o.notify, orcpt: o.orcpt } });
    const generated: Generated[] = [];
    const size = msg.content.length;
    let text: string | undefined;
    const textOf = () => (text ??= searchText(msg.content, parsed).body);
    for (const r of msg.recipients) {
      const failure = this.refusal(r, deliveredTo, size, msg.enforceQuota);
      if (failure) {
        results.push({ address: r.address, status: 'failed', ...failure });
        continue;
      }
      let rejected: string | undefined;
      for (const d of r.destinations) {
        if (d.kind === 'local' && !local.has(d.account.id)) {
          // RFC 5321 §4.4: Return-Path is added at final delivery; Delivered-To lets a loop be seen.
          const prefix = `Return-Path: <${msg.mailFrom}>\r\nDelivered-To: ${d.address}\r\n`;
          const entry = { destination: d, prefix, placements: [] as Placement[] };
          local.set(d.account.id, entry);
          const outcome = await this.runSieve(msg, parsed, r, d, textOf);
          if (!outcome) {
            entry.placements.push({ mailbox: msg.folder ?? 'INBOX', flags: [], create: false });
            continue;
          }
          entry.placements.push(...outcome.placements);
          generated.push(...outcome.generated);
          for (const address of outcome.redirects) {
            const redirected = await this.redirectTarget(address, r.address, msg.mailFrom);
            if (redirected.kind === 'failed') {
              // The address took no mail: keep the message rather than lose it.
              this.deps.log.warn({ qid: msg.qid, to: d.address, redirect: address, reason: redirected.reason }, 'sieve redirect failed; keeping the message');
              if (!entry.placements.some((p) => p.mailbox === 'INBOX')) entry.placements.push({ mailbox: 'INBOX', flags: [], create: false });
            } else {
              for (const extra of redirected.local) {
                if (!local.has(extra.account.id)) local.set(extra.account.id, { destination: extra, prefix: `Return-Path: <${msg.mailFrom}>\r\nDelivered-To: ${extra.address}\r\n`, placements: [{ mailbox: 'INBOX', flags: [], create: false }] });
              }
              for (const rcpt of redirected.remote) if (!remote.has(rcpt.address)) remote.set(rcpt.address, { sender: redirected.sender, rcpt });
            }
          }
          if (outcome.reject !== undefined) {
            if (msg.canRefuse) rejected = outcome.reject;
            else if (msg.mailFrom !== '') generated.push({ kind: 'reject', recipient: msg.mailFrom, signer: d.account.domain, content: buildRejectNotice({ headers: { fields: parsed.headers, raw: msg.content.subarray(0, parsed.structure.bodyStart).toString('utf8') }, reason: outcome.reject, recipient: d.address, sender: msg.mailFrom, hostname: this.hostname }) });
          }
        } else if (d.kind === 'remote' && !remote.has(d.address)) {
          const forwarder = r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase();
          const sender = msg.mailFrom === '' || isSrs(msg.mailFrom) ? msg.mailFrom : srsForward(msg.mailFrom, forwarder, this.deps.srsSecret);
          remote.set(d.address, { sender, rcpt: { address: d.address, destinations: [], notify: r.notify, orcpt: r.orcpt ?? `rfc822;${r.address}` } });
        }
      }
      if (rejected !== undefined) {
        // RFC 5429 §2.1.1: refused in the protocol, with the script's reason; nothing is kept for it.
        for (const d of r.destinations) if (d.kind === 'local') local.delete(d.account.id);
        results.push({ address: r.address, status: 'failed', code: 'POLICY_REJECTED', message: oneLine(rejected) });
        continue;
      }
      results.push({ address: r.address, status: 'delivered' });
    }
    for (const [id, entry] of local) if (entry.placements.length === 0) local.delete(id); // discarded
    if (local.size === 0 && remote.size === 0) return results;

    const doc = local.size ? searchText(msg.content, parsed) : undefined;
    const internalDate = new Date();
    const events: Array<Omit<Extract<ChangeEvent, { type: 'added' }>, never>> = [];
    // The content is held from collection until the transaction referencing it has committed.
    await this.deps.store.blobs.withContent(msg.content, (blob) => this.deps.store.transaction(async (tx) => {
      for (const { destination, prefix, placements } of local.values()) {
        const accountId = destination.account.id;
        const inbox = await tx.mailboxes.get(accountId, 'INBOX');
        if (!inbox) throw new MailError('MAILBOX_NOT_FOUND', `account ${destination.account.address} has no INBOX`);
        for (const placement of placements) {
          const box = await this.mailboxFor(tx, accountId, placement, inbox, msg.qid);
          const m = await tx.messages.append(box.id, {
            blobHash: blob.hash, size: blob.size + Buffer.byteLength(prefix), internalDate, flags: placement.flags,
            envelope: parsed.envelope, envelopeWire: parsed.envelopeWire, bodyStructure: parsed.structure, headerPrefix: prefix,
          });
          const event = { type: 'added' as const, accountId, mailboxId: box.id, uid: m.uid, modseq: m.modseq };
          tx.notify(event);
          events.push(event);
        }
      }
      if (doc) await tx.fulltext.index(blob.hash, doc);
      const bySender = new Map<string, InboundRecipient[]>();
      for (const { sender, rcpt } of remote.values()) bySender.set(sender, [...(bySender.get(sender) ?? []), rcpt]);
      let first = local.size === 0;
      for (const [sender, rcpts] of bySender) {
        await tx.queue.add({
          qid: first ? msg.qid : newQueueId(), blobHash: blob.hash, sender, size: blob.size,
          authUser: msg.authUser ?? null, envid: msg.envid ?? null, ret: msg.ret ?? null,
          recipients: rcpts.map((r) => ({ recipient: r.address, notify: r.notify ?? null, orcpt: r.orcpt ?? null })),
        });
        first = false;
      }
    }));
    if (remote.size) this.deps.onQueued?.();
    this.deps.log.info(
      { qid: msg.qid, from: msg.mailFrom, size, authUser: msg.authUser, folder: msg.folder, mailboxes: [...local.values()].map((l) => l.destination.address), forwarded: [...remote.keys()], ms: Date.now() - started },
      'delivered',
    );
    for (const g of generated) {
      // Written after the commit: a crash here loses an auto-reply, never the message.
      const qid = newQueueId();
      await (this.deps.sign ? this.deps.sign(g.content, g.signer) : Promise.resolve(g.content)).then((content) => this.submitGenerated({ content, recipient: g.recipient, qid })).then(
        () => this.deps.log.info({ qid, inReplyTo: msg.qid, to: g.recipient, kind: g.kind }, 'sieve reply queued'),
        (err: unknown) => this.deps.log.warn({ qid, inReplyTo: msg.qid, to: g.recipient, kind: g.kind, err }, 'sieve reply not sent'),
      );
    }
    return results;
  }

  /**
   * Hands a message Postern wrote (a bounce, a vacation reply, a reject notice) to local delivery or the
   * queue, from the null sender, as for any other message. It is signed by whoever wrote it.
   */
  async submitGenerated(message: { content: Buffer; recipient: string; qid: string }): Promise<void> {
    const { content, recipient, qid } = message;
    const resolution = await this.checkRecipient(recipient).catch(() => undefined);
    if (resolution?.kind === 'ok') {
      await this.deliver({ content, mailFrom: '', recipients: [{ address: recipient, destinations: resolution.destinations }], enforceQuota: false, qid });
    } else if (resolution?.kind === 'not-hosted') {
      await this.deliver({ content, mailFrom: '', recipients: [], outbound: [{ address: recipient }], enforceQuota: false, qid });
    } else {
      this.deps.log.warn({ qid, to: recipient, reason: resolution?.kind ?? 'error' }, 'notification not delivered: the address does not take mail');
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
  private async runSieve(msg: InboundMessage, parsed: ReturnType<typeof parseMessage>, r: InboundRecipient, d: LocalDestination, text: () => string): Promise<{ placements: Placement[]; redirects: string[]; reject: string | undefined; generated: Generated[] } | undefined> {
    const sieve = this.deps.sieve;
    if (!sieve) return undefined;
    const accountId = d.account.id;
    if (!(await sieve.active(accountId))) return undefined;
    const boxes = new Set((await this.deps.store.mailboxes.list(accountId)).map((b) => b.name));
    const result = await sieve.evaluate(accountId, { content: msg.content, parsed, envelope: { from: msg.mailFrom, to: r.address }, mailboxes: boxes, text });
    if (!result) return undefined;
    const out = { placements: [] as Placement[], redirects: [] as string[], reject: undefined as string | undefined, generated: [] as Generated[] };
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
    this.deps.log.info({ qid: msg.qid, to: d.address, script: result.script, actions: result.actions.map((a) => a.type) }, 'sieve');
    return out;
  }

  /** RFC 5230: a reply, unless the message is one no one should answer or this sender had one within :days. */
  private async vacation(msg: InboundMessage, parsed: ReturnType<typeof parseMessage>, r: InboundRecipient, d: LocalDestination, action: Extract<SieveAction, { type: 'vacation' }>): Promise<Generated | undefined> {
    const own = [d.address, r.address, ...action.addresses];
    const refusal = msg.folder === 'Junk' ? 'spam' : vacationRefusal(parsed.headers, msg.mailFrom, own);
    if (refusal) {
      this.deps.log.debug({ qid: msg.qid, to: d.address, reason: refusal }, 'no vacation reply');
      return undefined;
    }
    const key = createHash('sha256').update(`${msg.mailFrom.toLowerCase()}\u0000${action.handle}`).digest('hex');
    const fresh = await this.deps.store.sieve.claimResponse(d.account.id, key, new Date(Date.now() + action.days * 86_400_000));
    if (!fresh) {
      this.deps.log.debug({ qid: msg.qid, to: d.address, sender: msg.mailFrom }, 'no vacation reply: already answered within :days');
      return undefined;
    }
    // RFC 5230 §4.3 :from: only an address the account may send as; otherwise the account's own.
    const fromAddress = action.from === undefined ? undefined : /<([^<>]+)>\s*$/.exec(action.from)?.[1] ?? action.from.trim();
    const from = fromAddress !== undefined && (await ownsAddress(this.deps.store, d.address, fromAddress)) ? action.from! : `<${d.address}>`;
    const content = buildVacationReply({ ...action, from }, { headers: parsed.headers, from, to: msg.mailFrom, hostname: this.hostname });
    const signer = (from === action.from ? fromAddress! : d.address).replace(/.*@/, '').toLowerCase();
    return { kind: 'vacation', recipient: msg.mailFrom, content, signer };
  }

  /** Where a Sieve redirect goes: local accounts, or a remote address with an SRS sender (RFC 5228 §4.2). */
  private async redirectTarget(address: string, via: string, mailFrom: string): Promise<{ kind: 'failed'; reason: string } | { kind: 'ok'; local: LocalDestination[]; remote: InboundRecipient[]; sender: string }> {
    const resolution = await resolveRecipient(this.deps.store, address, { srsSecret: this.deps.srsSecret });
    const forwarder = via.slice(via.lastIndexOf('@') + 1).toLowerCase();
    const sender = mailFrom === '' || isSrs(mailFrom) ? mailFrom : srsForward(mailFrom, forwarder, this.deps.srsSecret);
    const orcpt = `rfc822;${via}`;
    if (resolution.kind === 'not-hosted') return { kind: 'ok', local: [], remote: [{ address, destinations: [], orcpt }], sender };
    if (resolution.kind !== 'ok') return { kind: 'failed', reason: resolution.kind };
    return {
      kind: 'ok', sender,
      local: resolution.destinations.filter((x): x is LocalDestination => x.kind === 'local'),
      remote: resolution.destinations.filter((x) => x.kind === 'remote').map((x) => ({ address: x.address, destinations: [], orcpt })),
    };
  }

  /** The mailbox of a placement; INBOX when it does not exist and may not be created (Dovecot's lda_mailbox_autocreate=no). */
  private async mailboxFor(tx: Tx, accountId: number, placement: Placement, inbox: MailboxRecord, qid: string): Promise<MailboxRecord> {
    const name = placement.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : placement.mailbox;
    if (name === 'INBOX') return inbox;
    const existing = await tx.mailboxes.get(accountId, name);
    if (existing) return existing;
    if (placement.create && validMailboxName(name)) {
      // RFC 5490 §3.2 :create, with the parents a name needs (RFC 9051 §6.3.4).
      const parts = name.split('/');
      let created: MailboxRecord | undefined;
      for (let i = 1; i <= parts.length; i++) {
        const level = parts.slice(0, i).join('/');
        created = await tx.mailboxes.get(accountId, level);
        if (!created) {
          created = await tx.mailboxes.create(accountId, level);
          tx.notify({ type: 'mailbox', accountId, mailboxId: created.id, change: 'created' });
        }
      }
      return created!;
    }
    this.deps.log.warn({ qid, accountId, mailbox: name }, 'sieve fileinto: mailbox does not exist; delivered to INBOX');
    return inbox;
  }

  private refusal(r: InboundRecipient, deliveredTo: Set<string>, size: number, enforceQuota: boolean): { code: ErrorCode; message: string } | undefined {
    for (const d of r.destinations) {
      if (d.kind !== 'local') continue;
      if (deliveredTo.has(d.address)) return { code: 'MAIL_LOOP', message: `Delivered-To: ${d.address} already present: mail loop` };
      const a = d.account;
      if (enforceQuota && a.quotaBytes > 0 && a.usedBytes + size > a.quotaBytes) return { code: 'OVER_QUOTA', message: `mailbox of ${d.address} is full` };
    }
    return undefined;
  }
}

/** A name :create may make: '/'-separated levels, none empty, no control characters. */
function validMailboxName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length <= 1000 && !/[\x00-\x1f\x7f*%]/.test(name) && name.split('/').every((p) => p !== '');
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, 400);
}
