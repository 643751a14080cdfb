/**
 * Messages a Sieve script makes: the vacation auto-reply (RFC 5230 §5, RFC 3834) and the notice of a
 * `reject` that could not be refused in the protocol (RFC 5429 §2.1, an RFC 8098 MDN), plus the
 * checks that keep auto-replies away from lists, robots and other auto-replies.
 */
import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import addressparser from 'nodemailer/lib/addressparser';
import { headerValue, headerValues, type HeaderField } from '../mime/headers.js';
import { decodeWords } from '../mime/text.js';
import type { SieveAction } from './interpret.js';

type Vacation = Extract<SieveAction, { type: 'vacation' }>;

/** RFC 5230 §4.6 (and Dovecot's list): senders that never get an auto-reply. */
const ROBOT_LOCAL =
  /^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request|.*-bounces?|no-?reply|mdaemon)$/i;

/**
 * Why no automatic reply goes out, or undefined when one may. `own` are the recipient's addresses
 * (the account, the address mail came to, and :addresses); `addressed`: only when one of them is
 * in a recipient header (vacation, RFC 5230 §4.5).
 */
export function autoReplyRefusal(
  headers: HeaderField[],
  sender: string,
  own: string[],
  options: { addressed: boolean },
): string | undefined {
  if (sender === '') return 'null sender';
  const lowerOwn = own.map((a) => a.toLowerCase());
  if (lowerOwn.includes(sender.toLowerCase())) return 'sender is the recipient';
  const local = sender.slice(0, sender.lastIndexOf('@'));
  if (ROBOT_LOCAL.test(local)) return 'sender is a robot';
  // RFC 3834 §2 / RFC 5230 §4.5: never answer automatic or list mail.
  const auto = headerValue(headers, 'auto-submitted');
  if (auto && !/^\s*no\b/i.test(auto)) return 'Auto-Submitted';
  if (/^\s*(bulk|list|junk)\b/i.test(headerValue(headers, 'precedence') ?? '')) return 'Precedence';
  if (
    headers.some(
      (h) =>
        h.key === 'list-id' ||
        h.key === 'list-unsubscribe' ||
        h.key === 'list-post' ||
        h.key.startsWith('x-auto-response-suppress'),
    )
  )
    return 'list mail';
  if (!options.addressed) return undefined;
  // RFC 5230 §4.5: reply only when one of the recipient's addresses is in a recipient header.
  const addressed = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc']
    .flatMap((k) => headerValues(headers, k))
    .flatMap((v) => addressesIn(v))
    .some((a) => lowerOwn.includes(a));
  if (!addressed) return 'recipient not in To/Cc';
  return undefined;
}

function addressesIn(value: string): string[] {
  // Split, then pick: a regex searching for "x@y" from every position is quadratic on a long run without "@".
  return value
    .split(/[\s<>,;:"()]+/)
    .filter((t) => t.indexOf('@') > 0 && !t.endsWith('@'))
    .map((t) => t.toLowerCase());
}

/** One mailbox (`Name <a@b>` or `a@b`) without line breaks, or undefined (RFC 5230 §4.3 :from). */
export function parseMailbox(text: string): { name: string; address: string } | undefined {
  if (/[\r\n\0]/.test(text)) return undefined;
  let list;
  try {
    list = addressparser(text);
  } catch {
    return undefined;
  }
  if (
    list.length !== 1 ||
    'group' in list[0]! ||
    !list[0]!.address ||
    !/^[^\s@<>"]+@[^\s@<>"]+$/.test(list[0]!.address)
  )
    return undefined;
  return { name: list[0]!.name ?? '', address: list[0]!.address };
}

/** A From: value built from parts, never copied from a script: the name quoted or encoded (RFC 5322 §3.4, RFC 2047). */
export function formatMailbox(m: { name: string; address: string }): string {
  const name = m.name.replace(/[\r\n]+/g, ' ').trim();
  if (!name) return `<${m.address}>`;
  const shown = /^[\x20-\x7e]*$/.test(name)
    ? `"${name.replace(/["\\]/g, '\\$&')}"`
    : libmime.encodeWords(name, 'Q', 52);
  return `${shown} <${m.address}>`;
}

/** RFC 5230 §5: the reply to the message with `headers`, from `from` (a formatted mailbox), to `to`. */
export function buildVacationReply(
  action: Vacation,
  input: { headers: HeaderField[]; from: string; to: string; hostname: string; now?: Date },
): Buffer {
  const now = input.now ?? new Date();
  const subject =
    action.subject ?? `Auto: ${truncate(decodeWords(headerValue(input.headers, 'subject') ?? ''), MAX_ECHOED_SUBJECT)}`;
  // RFC 5230 §5.7, RFC 5322 §3.6.4: the original's msg-id, and its References when they are msg-ids (at most 20).
  const messageId = msgId(headerValue(input.headers, 'message-id'));
  // One msg-id per line (folded, RFC 5322 §3.2.2): 21 of 252 characters on one line would pass the
  // 998 characters §2.1.1 allows.
  const references = [
    ...(headerValue(input.headers, 'references')
      ?.match(/<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>/g)
      ?.slice(-20) ?? []),
    ...(messageId ? [messageId] : []),
  ].join('\r\n ');
  const lines = [
    `From: ${input.from}`,
    `To: <${input.to}>`,
    `Subject: ${encode(subject.replace(/[\r\n]+/g, ' '))}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${now.getTime().toString(36)}.${randomBytes(8).toString('hex')}@${input.hostname}>`,
    ...(messageId ? [`In-Reply-To: ${messageId}`] : []),
    ...(references ? [`References: ${references}`] : []),
    // RFC 3834 §5: marks the reply so that other responders leave it alone.
    'Auto-Submitted: auto-replied (vacation)',
    'Precedence: bulk',
    'MIME-Version: 1.0',
  ];
  if (action.mime) {
    // RFC 5230 §4.4 :mime: the reason is a MIME entity; only its Content-* fields are taken, so a
    // script cannot add a From, a Bcc or any other header to the reply.
    const entity = toCrlf(action.reason);
    const split = entity.indexOf('\r\n\r\n');
    const head = split >= 0 ? entity.slice(0, split) : '';
    const body = split >= 0 ? entity.slice(split + 4) : entity;
    const fields = head.split(/\r\n(?![ \t])/).filter((f) => /^content-[a-z0-9-]*:/i.test(f));
    return Buffer.from(`${[...lines, ...fields].join('\r\n')}\r\n\r\n${body}`, 'utf8');
  }
  lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
  return Buffer.from(
    `${lines.join('\r\n')}\r\n\r\n${toCrlf(action.reason)}${action.reason.endsWith('\n') ? '' : '\r\n'}`,
    'utf8',
  );
}

/** RFC 5429 §2.1.1 / RFC 8098: the notice sent to the sender when a reject could not be a protocol refusal. */
export function buildRejectNotice(input: {
  headers: HeaderBlock;
  reason: string;
  recipient: string;
  sender: string;
  hostname: string;
  now?: Date;
}): Buffer {
  const now = input.now ?? new Date();
  const boundary = `${now.getTime().toString(36)}.${randomBytes(6).toString('hex')}/${input.hostname}`;
  const messageId = headerValue(input.headers.fields, 'message-id');
  // Only a well-formed msg-id is echoed (RFC 5322 §3.6.4), and only so much of the subject.
  const echoedId = msgId(messageId);
  const subject = decodeWords(headerValue(input.headers.fields, 'subject') ?? '');
  const head = [
    `From: <${input.recipient}>`,
    `To: <${input.sender}>`,
    `Subject: ${encode(`Rejected: ${truncate(subject, MAX_ECHOED_SUBJECT)}`.replace(/[\r\n]+/g, ' '))}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${now.getTime().toString(36)}.${randomBytes(8).toString('hex')}@${input.hostname}>`,
    ...(echoedId ? [`In-Reply-To: ${echoedId}`] : []),
    'Auto-Submitted: auto-replied (rejected)',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=disposition-notification; boundary="${boundary}"`,
  ];
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Your message to <${input.recipient}> was automatically rejected:`,
    '',
    toCrlf(input.reason).replace(/\r\n$/, ''),
    '',
    `--${boundary}`,
    'Content-Type: message/disposition-notification',
    '',
    `Reporting-UA: ${input.hostname}; Postern`,
    `Final-Recipient: rfc822; ${input.recipient}`,
    ...(echoedId ? [`Original-Message-ID: ${echoedId}`] : []),
    'Disposition: automatic-action/MDN-sent-automatically; deleted',
    '',
    // RFC 8098 §3: the third part (the original's header) is optional, and the sender is not
    // verified: echoing what it sent would make Postern a reflector of its text to anyone.
    `--${boundary}--`,
    '',
  ];
  return Buffer.from([...head, '', ...body].join('\r\n'), 'utf8');
}

export interface HeaderBlock {
  fields: HeaderField[];
}

function encode(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : libmime.encodeWords(v, 'Q', 52);
}

/** A msg-id as received when it is one (RFC 5322 §3.6.4), else undefined: nothing else is echoed. */
function msgId(value: string | undefined): string | undefined {
  return value && /^<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>$/.test(value) ? value : undefined;
}

/** Subject characters a reply or notice repeats. */
const MAX_ECHOED_SUBJECT = 200;

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function toCrlf(s: string): string {
  return s.replace(/\r?\n/g, '\r\n');
}

/** RFC 5322 §3.3 in UTC. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}
