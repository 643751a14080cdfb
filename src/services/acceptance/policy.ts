/**
 * The acceptance policy that needs no I/O: what a message's header must look like to be taken, what a
 * submission server adds to it, and what the sender-authentication verdict means for it. Each check
 * answers with a Refusal (an ErrorCode the protocol turns into its reply, and the detail shown) or lets
 * the message through. Unit-tested without sockets (policy.test.ts).
 */
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../../lib/errors.js';
import {
  hasTooManyFields,
  headerBlockProblem,
  headerEnd,
  headerValue,
  MAX_ARC_SETS,
  MAX_DKIM_SIGNATURES,
  MAX_HEADER_FIELDS,
  parseHeaders,
  repeatedFields,
  SINGLE_FIELDS,
  type HeaderField,
} from '../../mail/mime/headers.js';
import { singleMailbox } from '../../mail/mime/structure.js';

/** Where a message arrives: port 25, submission (587/465) or LMTP. */
export type AcceptMode = 'mx' | 'submission' | 'lmtp';

/** Why a whole message is refused: the code the protocol answers with, the detail it shows, what is logged. */
export interface Refusal {
  code: ErrorCode;
  detail: string;
  log: string;
}

/** What the checks read from the header, for the stages after them. */
export interface HeaderFacts {
  head: HeaderField[];
  /** The From field's value; undefined when there is none. */
  from: string | undefined;
}

const refuse = (code: ErrorCode, detail: string, log: string): { refusal: Refusal } => ({
  refusal: { code, detail, log },
});

/**
 * The header checks every message passes before anything else reads it: a bounded header block, a
 * bounded number of signatures and ARC sets, one of each field RFC 5322 §3.6 allows once, and — on
 * port 25 — a From that names exactly one domain, so DMARC can judge it.
 */
export function checkHeader(mode: AcceptMode, data: Buffer): { refusal: Refusal } | { facts: HeaderFacts } {
  const rawBlock = data.subarray(0, headerEnd(data));
  const tooBig = headerBlockProblem(rawBlock);
  if (tooBig) return refuse('MESSAGE_TOO_BIG', tooBig, `message refused: ${tooBig}`);
  const block = rawBlock.toString('latin1');
  const head = parseHeaders(block);
  const signatures = head.filter((f) => f.key === 'dkim-signature').length;
  const arcSets = head.filter((f) => f.key === 'arc-seal').length;
  if (signatures > MAX_DKIM_SIGNATURES || arcSets > MAX_ARC_SETS) {
    const detail = `${signatures} DKIM signatures and ${arcSets} ARC sets (at most ${MAX_DKIM_SIGNATURES} and ${MAX_ARC_SETS})`;
    return refuse('TOO_MANY_SIGNATURES', detail, 'message refused: too many signatures');
  }
  // RFC 5322 §3.6: one From (DMARC, RFC 7489 §6.6.1, is judged on it; a second one is what a reader
  // may be shown). A submission must also be unambiguous in the fields a signature vouches for.
  const repeated = repeatedFields(head, mode === 'submission' ? SINGLE_FIELDS : ['from']);
  if (repeated.length) {
    const what = repeated.map((r) => `${r.count} ${r.key} fields`).join(', ');
    return refuse(
      'MESSAGE_MALFORMED',
      `${what} (RFC 5322 section 3.6 allows one)`,
      'message refused: repeated header fields',
    );
  }
  // Fields past the ones parsed would be unseen by these checks and seen by others (a second From).
  if (hasTooManyFields(block)) {
    const detail = `more than ${MAX_HEADER_FIELDS} header fields`;
    return refuse('MESSAGE_TOO_BIG', detail, `message refused: ${detail}`);
  }
  const from = headerValue(head, 'from');
  // RFC 7489 §6.6.1: DMARC is judged on the one domain of From. A From of several mailboxes, a
  // group or no domain would go unjudged (and be shown to the reader), so it is refused, as large
  // receivers do; a message with no From at all names no domain to impersonate.
  if (mode === 'mx' && from !== undefined && !singleMailbox(from)) {
    return refuse(
      'POLICY_REJECTED',
      'the From field must hold exactly one address with a domain (RFC 5322 section 3.6.2, RFC 7489 section 6.6.1)',
      'message refused: From does not hold exactly one address',
    );
  }
  return { facts: { head, from } };
}

/** RFC 6409 §8.2, §8.3: the Message-ID and Date a submission server adds when the message has none. */
export function submissionFields(head: HeaderField[], hostname: string, now: Date): string[] {
  const added: string[] = [];
  if (!headerValue(head, 'message-id'))
    added.push(`Message-ID: <${now.getTime().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>`);
  if (!headerValue(head, 'date')) added.push(`Date: ${rfc5322Date(now)}`);
  return added;
}

/** The sender-authentication result, as acceptance reads it. */
export interface AuthenticationVerdict {
  verdict: 'accept' | 'junk' | 'reject';
  reason?: string | undefined;
  /** DMARC read the From field as one domain. */
  fromJudged: boolean;
}

/** DMARC/SPF policy applied: refused, filed to Junk, or taken as it is. */
export function applyAuthentication(
  checked: AuthenticationVerdict,
  hasFrom: boolean,
): { refusal: Refusal } | { folder: 'Junk' | undefined } {
  if (checked.verdict === 'reject')
    return refuse('POLICY_REJECTED', checked.reason ?? '', 'message refused: sender authentication');
  if (hasFrom && !checked.fromJudged) {
    // Read as one mailbox by checkHeader but not by the DMARC check: never let such a From through unjudged.
    return refuse(
      'POLICY_REJECTED',
      'the From field could not be checked (RFC 7489 section 6.6.1)',
      'message refused: DMARC could not read the From field',
    );
  }
  return { folder: checked.verdict === 'junk' ? 'Junk' : undefined };
}

/** The content filter's verdict, as acceptance reads it. */
export interface ContentVerdict {
  action: 'accept' | 'junk' | 'reject' | 'tempfail';
  reason: string;
  score: number | undefined;
  recipients: Array<{ address: string; disposition: 'inbox' | 'junk' | 'quarantine' | 'reject'; why: string }>;
  holdForMs: number;
}

/** What a recipient's copy becomes: filed to a folder, or held in quarantine. */
export interface CopyDisposition {
  folder?: 'Junk' | undefined;
  hold?: { reason: string; score: number | undefined; keepMs: number } | undefined;
}

/**
 * A content filter verdict applied: refused (550 5.7.1), deferred (451 4.7.1), or taken with a
 * disposition per recipient — Junk, quarantine, or as it is. A recipient whose thresholds or lists
 * refuse the message while others take it cannot be refused after DATA on SMTP: its copy is held.
 */
export function applyContentVerdict(
  v: ContentVerdict,
): { refusal: Refusal } | { copies: Map<string, CopyDisposition> } {
  if (v.action === 'reject') return refuse('POLICY_REJECTED', v.reason, 'message refused: content filter');
  if (v.action === 'tempfail') return refuse('POLICY_TEMPFAIL', v.reason, 'message deferred: content filter');
  const copies = new Map<string, CopyDisposition>();
  for (const r of v.recipients) {
    if (r.disposition === 'junk') copies.set(r.address.toLowerCase(), { folder: 'Junk' });
    else if (r.disposition === 'quarantine' || r.disposition === 'reject')
      copies.set(r.address.toLowerCase(), { hold: { reason: r.why, score: v.score, keepMs: v.holdForMs } });
  }
  return { copies };
}

/** Header fields only Postern's filter may write: X-Spam-*, X-Spamd-*, X-Rspamd-*, X-Virus-*. */
const FILTER_FIELD = /^x-(?:spam|spamd|rspamd|virus)-[^:]*:/i;

/**
 * Removes the filter's header fields a sender wrote (as Amavis does), so that no message reaches a
 * mailbox, a Sieve spamtest or a mail client with a verdict Postern did not reach. Continuation lines
 * go with their field.
 */
export function stripFilterHeaders(data: Buffer): Buffer {
  const end = headerEnd(data);
  const head = data.subarray(0, end).toString('latin1');
  if (!/^x-(?:spam|spamd|rspamd|virus)-/im.test(head)) return data;
  const out: string[] = [];
  let dropping = false;
  for (const line of head.split(/(?<=\n)/)) {
    if (line[0] === ' ' || line[0] === '\t') {
      if (!dropping) out.push(line);
      continue;
    }
    dropping = FILTER_FIELD.test(line);
    if (!dropping) out.push(line);
  }
  return Buffer.concat([Buffer.from(out.join(''), 'latin1'), data.subarray(end)]);
}

/** RFC 5322 §3.3 in UTC: "Thu, 26 Nov 2026 23:35:53 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}
