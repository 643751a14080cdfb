/**
 * Decide: for each recipient of a message, whether it is refused (a loop, a full mailbox, a Sieve
 * reject) or where its copies go (mailboxes with flags, remote forwards, Sieve redirects) and what
 * mail Sieve asks to write. Nothing is written here; `commit.ts` applies the plan in one transaction.
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../lib/errors.js';
import { headerValues } from '../../mail/mime/headers.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { searchText } from '../../mail/mime/text.js';
import { forwardingSender, redirectTarget, rejectNotice, runSieve, type SieveOutcome } from './sieve-actions.js';
import type {
  DeliveryDeps,
  DeliveryPlan,
  Generated,
  InboundMessage,
  InboundRecipient,
  LocalDestination,
  ParsedMessage,
  Placement,
  RemoteCopy,
} from './types.js';

/** One recipient's share, kept only if its scripts do not refuse the message (RFC 5429 §2.1.1). */
interface Share {
  placements: Array<[LocalDestination, Placement]>;
  remote: RemoteCopy[];
  generated: Generated[];
  rejected: string | undefined;
}

/** What the recipients of one message share while it is planned. */
interface Context {
  deps: DeliveryDeps;
  msg: InboundMessage;
  parsed: ParsedMessage;
  deliveredTo: Set<string>;
  textOf: () => string;
  /** An account's script runs once per message; a later recipient for the same account shares its outcome. */
  ran: Map<number, { rejected: string | undefined }>;
}

export async function planDelivery(deps: DeliveryDeps, msg: InboundMessage): Promise<DeliveryPlan> {
  const parsed = parseMessage(msg.content);
  const startedAt = Date.now();
  const plan: DeliveryPlan = {
    msg,
    parsed,
    startedAt,
    isLoop: false,
    results: [],
    local: new Map(),
    remote: new Map(),
    generated: [],
    held: [],
  };
  const received = headerValues(parsed.headers, 'received').length;
  if (received > deps.maxReceivedHeaders) {
    deps.log.warn({ qid: msg.qid, received }, 'mail loop: too many Received headers');
    const message = `too many Received headers (${received}): mail loop`;
    plan.results = msg.recipients.map((r) => ({ address: r.address, status: 'failed', code: 'MAIL_LOOP', message }));
    plan.isLoop = true;
    return plan;
  }
  const deliveredTo = new Set(
    headerValues(parsed.headers, 'delivered-to').map((v) => v.toLowerCase().replace(/^<|>$/g, '')),
  );
  // Remote destinations by envelope sender: submissions keep the sender, forwards get an SRS one.
  for (const o of msg.outbound ?? [])
    plan.remote.set(o.address, {
      sender: msg.mailFrom,
      rcpt: { address: o.address, destinations: [], notify: o.notify, orcpt: o.orcpt },
    });
  let text: string | undefined;
  const textOf = () => (text ??= searchText(msg.content, parsed).body);
  const ctx: Context = { deps, msg, parsed, deliveredTo, textOf, ran: new Map() };
  for (const r of msg.recipients) {
    const failure = refusal(r, deliveredTo, msg.content.length, msg.enforceQuota);
    if (failure) {
      plan.results.push({ address: r.address, status: 'failed', ...failure });
      continue;
    }
    if (r.hold) {
      // Held by policy: accepted (the sender is told 250) but kept out of the mailbox until released.
      const local = r.destinations.find((d) => d.kind === 'local');
      plan.held.push({ recipient: r, accountId: local?.kind === 'local' ? local.account.id : null });
      plan.results.push({ address: r.address, status: 'delivered' });
      continue;
    }
    const filed = r.folder && {
      ...msg,
      folder: r.folder,
      isFilterJunk: r.folder === 'Junk' && msg.folder === undefined,
    };
    const share = await planRecipient(filed ? { ...ctx, msg: filed } : ctx, r);
    if (share.rejected !== undefined) {
      // RFC 5429 §2.1.1: refused in the protocol with the script's reason; nothing of this recipient's is kept.
      const message = oneLine(share.rejected);
      plan.results.push({ address: r.address, status: 'failed', code: 'POLICY_REJECTED', message });
      continue;
    }
    for (const [d, p] of share.placements) place(plan, d, p);
    for (const x of share.remote) if (!plan.remote.has(x.rcpt.address)) plan.remote.set(x.rcpt.address, x);
    plan.generated.push(...share.generated);
    plan.results.push({ address: r.address, status: 'delivered' });
  }
  return plan;
}

/** Adds a placement to the account's copy, once per mailbox. */
function place(plan: DeliveryPlan, d: LocalDestination, placement: Placement): void {
  let entry = plan.local.get(d.account.id);
  if (!entry) {
    // RFC 5321 §4.4: Return-Path is added at final delivery; Delivered-To lets a loop be seen.
    const prefix = `Return-Path: <${plan.msg.mailFrom}>\r\nDelivered-To: ${d.address}\r\n`;
    entry = { destination: d, prefix, placements: [] };
    plan.local.set(d.account.id, entry);
  }
  const same = (name: string) => (name.toUpperCase() === 'INBOX' ? 'INBOX' : name);
  if (!entry.placements.some((p) => same(p.mailbox) === same(placement.mailbox))) entry.placements.push(placement);
}

async function planRecipient(ctx: Context, r: InboundRecipient): Promise<Share> {
  const { deps, msg, parsed } = ctx;
  const share: Share = { placements: [], remote: [], generated: [], rejected: undefined };
  for (const d of r.destinations) {
    if (d.kind === 'remote') {
      share.remote.push({
        sender: forwardingSender(deps, msg.mailFrom, r.address),
        rcpt: { address: d.address, destinations: [], notify: r.notify, orcpt: r.orcpt ?? `rfc822;${r.address}` },
      });
      continue;
    }
    const earlier = ctx.ran.get(d.account.id);
    if (earlier) {
      share.rejected ??= earlier.rejected;
      continue;
    }
    const outcome = await runSieve(deps, msg, parsed, r, d, ctx.textOf);
    ctx.ran.set(d.account.id, { rejected: outcome?.reject });
    if (!outcome) {
      share.placements.push([d, { mailbox: msg.folder ?? 'INBOX', flags: [], create: false }]);
      continue;
    }
    for (const p of outcome.placements) share.placements.push([d, p]);
    share.generated.push(...outcome.generated);
    for (const address of outcome.redirects) await planRedirect(ctx, share, r, d, address);
    if (outcome.reject !== undefined) planReject(ctx, share, d, outcome);
  }
  return share;
}

/** A Sieve redirect: local targets get a copy in INBOX, remote ones are queued once a day per Message-ID. */
async function planRedirect(
  ctx: Context,
  share: Share,
  r: InboundRecipient,
  d: LocalDestination,
  address: string,
): Promise<void> {
  const { deps, msg, parsed } = ctx;
  const keep = () => share.placements.push([d, { mailbox: 'INBOX', flags: [], create: false }]);
  const redirected = await redirectTarget(deps, address, r.address, msg.mailFrom);
  if (redirected.kind === 'failed') {
    // The address took no mail: keep the message rather than lose it.
    deps.log.warn(
      { qid: msg.qid, to: d.address, redirect: address, reason: redirected.reason },
      'sieve redirect failed; keeping the message',
    );
    keep();
    return;
  }
  const size = msg.content.length;
  for (const target of redirected.local) {
    const full = target.account.quotaBytes > 0 && target.account.usedBytes + size > target.account.quotaBytes;
    if (ctx.deliveredTo.has(target.address) || full) {
      // A loop, or no room: the message stays with the account whose script redirected it.
      deps.log.warn(
        { qid: msg.qid, to: d.address, redirect: target.address, reason: full ? 'over quota' : 'loop' },
        'sieve redirect not done; keeping the message',
      );
      keep();
      continue;
    }
    share.placements.push([target, { mailbox: 'INBOX', flags: [], create: false }]);
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
    share.remote.push({ sender: redirected.sender, rcpt, dedupe });
  }
}

/** A Sieve reject: a refusal in the protocol when the caller can give one, else a notice to the sender. */
function planReject(ctx: Context, share: Share, d: LocalDestination, outcome: SieveOutcome): void {
  if (ctx.msg.canRefuse) {
    share.rejected = outcome.reject;
    return;
  }
  const notice = rejectNotice(ctx.deps, ctx.msg, ctx.parsed, d, outcome.reject!);
  if (notice) share.generated.push(notice);
}

function refusal(
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

function oneLine(s: string): string {
  return s
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .trim()
    .slice(0, 400);
}
