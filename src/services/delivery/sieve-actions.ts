/**
 * An account's Sieve outcome turned into delivery work: placements, redirect targets, a reject reason,
 * and the mail Sieve asks for (RFC 5230 vacation replies, RFC 5429 reject notices), decided here and
 * written after the commit.
 */
import { createHash } from 'node:crypto';
import { isSrs, srsForward } from '../../mail/srs.js';
import {
  autoReplyRefusal,
  buildRejectNotice,
  buildVacationReply,
  formatMailbox,
  parseMailbox,
} from '../../mail/sieve/replies.js';
import type { SieveAction } from '../sieve/index.js';
import type {
  DeliveryDeps,
  Generated,
  InboundMessage,
  InboundRecipient,
  LocalDestination,
  ParsedMessage,
  Placement,
} from './types.js';

export interface SieveOutcome {
  placements: Placement[];
  redirects: string[];
  reject: string | undefined;
  generated: Generated[];
}

/** The account's Sieve script turned into placements, redirects, a reject reason and mail to write. */
export async function runSieve(
  deps: DeliveryDeps,
  msg: InboundMessage,
  parsed: ParsedMessage,
  r: InboundRecipient,
  d: LocalDestination,
  text: () => string,
): Promise<SieveOutcome | undefined> {
  const sieve = deps.sieve;
  if (!sieve) return undefined;
  const accountId = d.account.id;
  const mailboxes = async () => new Set((await deps.store.mailboxes.list(accountId)).map((b) => b.name));
  const result = await sieve.evaluate(accountId, {
    content: msg.content,
    parsed,
    envelope: { from: msg.mailFrom, to: r.address },
    mailboxes,
    text,
  });
  if (!result) return undefined;
  const keepIn = result.decidesVerdict ? keepFolder(msg) : (msg.folder ?? 'INBOX');
  const out: SieveOutcome = { placements: [], redirects: [], reject: undefined, generated: [] };
  for (const action of result.actions) {
    switch (action.type) {
      case 'keep':
        out.placements.push({ mailbox: keepIn, flags: action.flags, create: false });
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
        const reply = await vacation(deps, msg, parsed, r, d, action);
        if (reply) out.generated.push(reply);
        break;
      }
    }
  }
  deps.log.info(
    { qid: msg.qid, to: d.address, script: result.script, actions: result.actions.map((a) => a.type) },
    'sieve',
  );
  return out;
}

/**
 * Where keep files for a script that tests the filter's verdict itself (RFC 5235): the user took over
 * spam handling, so mail the filter put in Junk is kept in INBOX. Junk for another reason (a DMARC
 * p=quarantine failure, alone or with the filter's) stays Junk.
 */
function keepFolder(msg: InboundMessage): string {
  if (msg.folder !== 'Junk') return msg.folder ?? 'INBOX';
  return msg.isFilterJunk ? 'INBOX' : msg.folder;
}

/**
 * RFC 5230: a reply, unless the message is one no one should answer. Whether this sender had one
 * within :days is asked after the commit (claim), so a failed delivery does not use up the reply.
 */
async function vacation(
  deps: DeliveryDeps,
  msg: InboundMessage,
  parsed: ParsedMessage,
  r: InboundRecipient,
  d: LocalDestination,
  action: Extract<SieveAction, { type: 'vacation' }>,
): Promise<Generated | undefined> {
  const own = [d.address, r.address, ...action.addresses];
  const refusal =
    msg.folder === 'Junk' ? 'spam' : autoReplyRefusal(parsed.headers, msg.mailFrom, own, { addressed: true });
  if (refusal) {
    deps.log.debug({ qid: msg.qid, to: d.address, reason: refusal }, 'no vacation reply');
    return undefined;
  }
  const key = createHash('sha256').update(`${msg.mailFrom.toLowerCase()}\u0000${action.handle}`).digest('hex');
  // RFC 5230 §4.3 :from: one mailbox the account may send as; otherwise the address the mail came to
  // when the account may send as it, else the account's own.
  const asked = action.from === undefined ? undefined : parseMailbox(action.from);
  let from: { name: string; address: string } = { name: '', address: d.address };
  if (asked && (await deps.directory.ownsAddress(d.address, asked.address))) from = asked;
  else if (r.address.toLowerCase() !== d.address && (await deps.directory.ownsAddress(d.address, r.address)))
    from = { name: '', address: r.address };
  if (action.from !== undefined && from !== asked)
    deps.log.warn(
      { qid: msg.qid, to: d.address },
      'vacation :from is not an address of the account; replying from the account',
    );
  const content = buildVacationReply(action, {
    headers: parsed.headers,
    from: formatMailbox(from),
    to: msg.mailFrom,
    hostname: deps.hostname ?? 'localhost',
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
export function rejectNotice(
  deps: DeliveryDeps,
  msg: InboundMessage,
  parsed: ParsedMessage,
  d: LocalDestination,
  reason: string,
): Generated | undefined {
  const refusal =
    msg.folder === 'Junk' ? 'spam' : autoReplyRefusal(parsed.headers, msg.mailFrom, [d.address], { addressed: false });
  if (refusal) {
    deps.log.info({ qid: msg.qid, to: d.address, reason: refusal }, 'sieve reject: no notice sent');
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
      hostname: deps.hostname ?? 'localhost',
    }),
  };
}

/** The envelope sender of a forwarded copy: an SRS address of the forwarding domain (bounces keep theirs). */
export function forwardingSender(deps: DeliveryDeps, mailFrom: string, via: string): string {
  const forwarder = via.slice(via.lastIndexOf('@') + 1).toLowerCase();
  return mailFrom === '' || isSrs(mailFrom) ? mailFrom : srsForward(mailFrom, forwarder, deps.srsSecret);
}

/** Where a Sieve redirect goes: local accounts, or a remote address with an SRS sender (RFC 5228 §4.2). */
export async function redirectTarget(
  deps: DeliveryDeps,
  address: string,
  via: string,
  mailFrom: string,
): Promise<
  | { kind: 'failed'; reason: string }
  | { kind: 'ok'; local: LocalDestination[]; remote: InboundRecipient[]; sender: string }
> {
  const resolution = await deps.directory.resolveRecipient(address, { srsSecret: deps.srsSecret, sender: mailFrom });
  const sender = forwardingSender(deps, mailFrom, via);
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
