/**
 * Local delivery, shared by SMTP (MX and submission), LMTP and later Sieve: recipients are resolved
 * to accounts and remote forwards, the message is parsed once (envelope, body structure, search text),
 * its content stored once, and one row per mailbox committed, with the forwards queued in the same
 * transaction. The caller replies 250 only after deliver() resolves: by then everything is on disk.
 */
import { MailError, type ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { headerValues } from '../../mail/mime/headers.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { searchText } from '../../mail/mime/text.js';
import type { ChangeEvent, Store } from '../../store/index.js';
import { newQueueId } from '../../lib/ids.js';
import { isSrs, srsForward } from '../../mail/srs.js';
import { resolveRecipient, type Destination, type Resolution } from './recipients.js';

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
    const local = new Map<number, { destination: Extract<Destination, { kind: 'local' }>; prefix: string }>();
    // Remote destinations by envelope sender: submissions keep the sender, forwards get an SRS one.
    const remote = new Map<string, { sender: string; rcpt: InboundRecipient }>();
    for (const o of msg.outbound ?? []) remote.set(o.address, { sender: msg.mailFrom, rcpt: { address: o.address, destinations: [], notify: o.notify, orcpt: o.orcpt } });
    const size = msg.content.length;
    for (const r of msg.recipients) {
      const failure = this.refusal(r, deliveredTo, size, msg.enforceQuota);
      if (failure) {
        results.push({ address: r.address, status: 'failed', ...failure });
        continue;
      }
      for (const d of r.destinations) {
        if (d.kind === 'local' && !local.has(d.account.id)) {
          // RFC 5321 §4.4: Return-Path is added at final delivery; Delivered-To lets a loop be seen.
          const prefix = `Return-Path: <${msg.mailFrom}>\r\nDelivered-To: ${d.address}\r\n`;
          local.set(d.account.id, { destination: d, prefix });
        } else if (d.kind === 'remote' && !remote.has(d.address)) {
          const forwarder = r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase();
          const sender = msg.mailFrom === '' || isSrs(msg.mailFrom) ? msg.mailFrom : srsForward(msg.mailFrom, forwarder, this.deps.srsSecret);
          remote.set(d.address, { sender, rcpt: { address: d.address, destinations: [], notify: r.notify, orcpt: r.orcpt ?? `rfc822;${r.address}` } });
        }
      }
      results.push({ address: r.address, status: 'delivered' });
    }
    if (local.size === 0 && remote.size === 0) return results;

    const blob = await this.deps.store.blobs.put(msg.content);
    const doc = searchText(msg.content, parsed);
    const internalDate = new Date();
    const events: Array<Omit<Extract<ChangeEvent, { type: 'added' }>, never>> = [];
    await this.deps.store.transaction(async (tx) => {
      for (const { destination, prefix } of local.values()) {
        const inbox = (msg.folder ? await tx.mailboxes.get(destination.account.id, msg.folder) : undefined) ?? (await tx.mailboxes.get(destination.account.id, 'INBOX'));
        if (!inbox) throw new MailError('MAILBOX_NOT_FOUND', `account ${destination.account.address} has no INBOX`);
        const m = await tx.messages.append(inbox.id, {
          blobHash: blob.hash, size: blob.size + Buffer.byteLength(prefix), internalDate, flags: [],
          envelope: parsed.envelope, envelopeWire: parsed.envelopeWire, bodyStructure: parsed.structure, headerPrefix: prefix,
        });
        const event = { type: 'added' as const, accountId: destination.account.id, mailboxId: inbox.id, uid: m.uid, modseq: m.modseq };
        tx.notify(event);
        events.push(event);
      }
      if (local.size) await tx.fulltext.index(blob.hash, doc);
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
    });
    if (remote.size) this.deps.onQueued?.();
    this.deps.log.info(
      { qid: msg.qid, from: msg.mailFrom, size, authUser: msg.authUser, folder: msg.folder, mailboxes: [...local.values()].map((l) => l.destination.address), forwarded: [...remote.keys()], ms: Date.now() - started },
      'delivered',
    );
    return results;
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
