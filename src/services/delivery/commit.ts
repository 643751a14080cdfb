/**
 * Apply: a delivery plan written in one transaction — every mailbox copy, the full-text entry and
 * the queue entries for remote recipients — after the content is on disk. The caller replies 250
 * only after this resolves.
 */
import { MailError } from '../../lib/errors.js';
import { newQueueId } from '../../lib/ids.js';
import { isValidMailboxName, levelsToCreate } from '../../mail/mailbox-name.js';
import { headerValue } from '../../mail/mime/headers.js';
import { searchText } from '../../mail/mime/text.js';
import { threadKeys } from '../../mail/threads.js';
import type { ChangeEvent, MailboxRecord, Tx } from '../../store/index.js';
import type { DeliveryDeps, DeliveryPlan, InboundRecipient, LocalCopy, Placement, RemoteCopy } from './types.js';

const REDIRECT_DEDUPE_MS = 24 * 60 * 60_000;

/** One transaction: every mailbox copy, the full-text entry, and the queue entries for remote recipients. */
export async function commitPlan(deps: DeliveryDeps, plan: DeliveryPlan): Promise<void> {
  const { msg, parsed, local, remote } = plan;
  if (local.size === 0 && remote.size === 0) {
    if (plan.held.length) await deps.store.transaction((tx) => holdCopies(tx, plan));
    return;
  }
  const doc = local.size ? searchText(msg.content, parsed) : undefined;
  const internalDate = new Date();
  // The content is held from collection until the transaction referencing it has committed.
  await deps.store.blobs.withContent(msg.content, (blob) =>
    deps.store.transaction(async (tx) => {
      for (const copy of local.values()) await writeCopies(deps, tx, plan, copy, blob, internalDate);
      if (doc) await tx.fulltext.index(blob.hash, doc);
      await queueRemote(deps, tx, plan, [...remote.values()], blob);
      await holdCopies(tx, plan);
    }),
  );
  if (remote.size) deps.onQueued?.();
}

/** Quarantined copies, in the same transaction as the rest of the message's delivery. */
async function holdCopies(tx: Tx, plan: DeliveryPlan): Promise<void> {
  const now = new Date();
  const subject = (headerValue(plan.parsed.headers, 'subject') ?? '').replace(/\s+/g, ' ').trim().slice(0, 200);
  for (const { recipient, accountId } of plan.held) {
    const hold = recipient.hold!;
    await tx.quarantine.hold({
      qid: plan.msg.qid,
      recipient: recipient.address,
      accountId,
      mailFrom: plan.msg.mailFrom,
      subject,
      reason: hold.reason,
      score: hold.score ?? null,
      content: plan.msg.content,
      createdAt: now,
      expiresAt: new Date(now.getTime() + hold.keepMs),
    });
  }
}

async function writeCopies(
  deps: DeliveryDeps,
  tx: Tx,
  plan: DeliveryPlan,
  { destination, prefix, placements }: LocalCopy,
  blob: { hash: string; size: number },
  internalDate: Date,
): Promise<void> {
  const accountId = destination.account.id;
  const inbox = await tx.mailboxes.get(accountId, 'INBOX');
  if (!inbox) throw new MailError('MAILBOX_NOT_FOUND', `account ${destination.account.address} has no INBOX`);
  // Every copy in the account is in one thread: the one a message it refers to is in, or its own.
  const keys = threadKeys(plan.parsed.headers);
  let threadId = await tx.threads.find(accountId, keys.references, keys.subject);
  for (const placement of placements) {
    const box = await mailboxFor(deps, tx, accountId, placement, inbox, plan.msg.qid);
    const m = await tx.messages.append(box.id, {
      blobHash: blob.hash,
      size: blob.size + Buffer.byteLength(prefix),
      internalDate,
      flags: placement.flags,
      envelope: plan.parsed.envelope,
      envelopeWire: plan.parsed.envelopeWire,
      bodyStructure: plan.parsed.structure,
      headerPrefix: prefix,
      ...(threadId === undefined ? {} : { threadId }),
    });
    if (threadId === undefined) {
      threadId = m.threadId;
      if (keys.messageId) await tx.threads.remember(accountId, keys.messageId, threadId, keys.subject);
    }
    const event: ChangeEvent = { type: 'added', accountId, mailboxId: box.id, uid: m.uid, modseq: m.modseq };
    tx.notify(event);
  }
}

/** Queue entries, one per envelope sender; a Sieve redirect already made today is not repeated. */
async function queueRemote(
  deps: DeliveryDeps,
  tx: Tx,
  plan: DeliveryPlan,
  remote: RemoteCopy[],
  blob: { hash: string; size: number },
): Promise<void> {
  const { msg } = plan;
  const bySender = new Map<string, InboundRecipient[]>();
  for (const { sender, rcpt, dedupe } of remote) {
    // In the transaction: the redirect is recorded exactly when it is queued.
    if (
      dedupe &&
      !(await tx.sieve.claimResponse(dedupe.accountId, dedupe.key, new Date(Date.now() + REDIRECT_DEDUPE_MS)))
    ) {
      deps.log.info(
        { qid: msg.qid, redirect: rcpt.address },
        'sieve redirect of this message already done today: not repeated',
      );
      continue;
    }
    bySender.set(sender, [...(bySender.get(sender) ?? []), rcpt]);
  }
  let first = plan.local.size === 0;
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
}

/** The mailbox of a placement; INBOX when it does not exist and may not be created (Dovecot's lda_mailbox_autocreate=no). */
async function mailboxFor(
  deps: DeliveryDeps,
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
      deps.log.warn(
        { qid, accountId, mailbox: name },
        'sieve fileinto :create: the account has too many mailboxes; delivered to INBOX',
      );
      return inbox;
    }
  }
  deps.log.warn({ qid, accountId, mailbox: name }, 'sieve fileinto: mailbox does not exist; delivered to INBOX');
  return inbox;
}
