/**
 * Delivery status notifications (RFC 3464 multipart/report, RFC 3461 RET/ENVID/ORCPT): the bounce
 * for recipients that failed, or the warning for those still being retried.
 */
import { randomBytes } from 'node:crypto';

export interface DsnRecipient {
  recipient: string;
  orcpt: string | null;
  /** The remote reply or our reason, e.g. "550 5.1.1 <x@y>: no such user". */
  diagnostic: string;
  remoteMta: string | null;
}

export interface DsnInput {
  kind: 'failure' | 'delay';
  reportingMta: string;
  qid: string;
  sender: string;
  envid: string | null;
  /** RET=HDRS returns only the headers; otherwise the whole message (headers only above `maxReturnBytes`). */
  ret: string | null;
  arrivalDate: Date;
  willRetryUntil?: Date | undefined;
  recipients: DsnRecipient[];
  original: Buffer;
  maxReturnBytes?: number;
}

/** The status code in a reply ("550 5.1.1 …" → 5.1.1), else a generic one for its class. */
export function statusOf(diagnostic: string, kind: 'failure' | 'delay'): string {
  const m = /^(?:\d{3}[ -])?([245]\.\d{1,3}\.\d{1,3})\b/.exec(diagnostic);
  if (m) return m[1]!;
  return kind === 'failure' ? '5.0.0' : '4.0.0';
}

export function buildDsn(input: DsnInput, now = new Date()): Buffer {
  const boundary = `${input.qid}.${randomBytes(6).toString('hex')}/${input.reportingMta}`;
  const failed = input.kind === 'failure';
  const headersOnly = input.ret?.toUpperCase() === 'HDRS' || input.original.length > (input.maxReturnBytes ?? 1 << 20);
  const lines = (list: string[]) => list.join('\r\n') + '\r\n';

  const human = failed
    ? [
        `This is the mail system at host ${input.reportingMta}.`,
        '',
        'Your message could not be delivered to one or more recipients. It is attached below.',
        'The reasons the receiving servers gave (or ours) follow each address:',
      ]
    : [
        `This is the mail system at host ${input.reportingMta}.`,
        '',
        'Your message has not been delivered yet to the recipients below. It is still being retried;',
        `if it cannot be delivered by ${input.willRetryUntil?.toUTCString() ?? 'the end of its lifetime'}, you will get another notice.`,
        'There is no need to send it again.',
      ];
  for (const r of input.recipients)
    human.push('', `<${r.recipient}>: ${r.remoteMta ? `host ${r.remoteMta} said: ` : ''}${oneLine(r.diagnostic)}`);

  const perMessage = [`Reporting-MTA: dns; ${input.reportingMta}`, `X-Postern-Queue-ID: ${input.qid}`];
  if (input.envid) perMessage.push(`Original-Envelope-Id: ${xtextDecode(input.envid)}`);
  perMessage.push(`Arrival-Date: ${input.arrivalDate.toUTCString()}`);
  const perRecipient = input.recipients.map((r) => {
    const block = [`Final-Recipient: rfc822; ${r.recipient}`];
    if (r.orcpt) block.push(`Original-Recipient: ${orcptField(r.orcpt)}`);
    block.push(`Action: ${failed ? 'failed' : 'delayed'}`, `Status: ${statusOf(r.diagnostic, input.kind)}`);
    if (r.remoteMta) block.push(`Remote-MTA: dns; ${r.remoteMta}`);
    block.push(`Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`, `Last-Attempt-Date: ${now.toUTCString()}`);
    if (!failed && input.willRetryUntil) block.push(`Will-Retry-Until: ${input.willRetryUntil.toUTCString()}`);
    return lines(block);
  });

  const returned = headersOnly ? input.original.subarray(0, headerLength(input.original)) : input.original;
  const head = lines([
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.sender}>`,
    `Subject: ${failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${input.qid}.${now.getTime()}.${failed ? 'failure' : 'delay'}@${input.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Description: Notification',
    '',
    ...human,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
  ]);
  const report = lines([perMessage.join('\r\n')]) + perRecipient.map((b) => '\r\n' + b).join('');
  const attachmentHead = lines([
    '',
    `--${boundary}`,
    `Content-Type: ${headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}`,
    `Content-Description: ${headersOnly ? 'Undelivered message headers' : 'Undelivered message'}`,
    '',
  ]);
  const tail = Buffer.from(
    `${returned.length && !returned.subarray(-2).equals(Buffer.from('\r\n')) ? '\r\n' : ''}\r\n--${boundary}--\r\n`,
  );
  return Buffer.concat([Buffer.from(head + report + attachmentHead), toCrlf(returned), tail]);
}

function oneLine(s: string): string {
  return s
    .replace(/\r?\n/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 900);
}

/** ORCPT is "rfc822;addr" in xtext (RFC 3461 §4.2): shown as "rfc822; addr". */
function orcptField(orcpt: string): string {
  const [type, ...rest] = orcpt.split(';');
  return `${type}; ${xtextDecode(rest.join(';'))}`;
}

function xtextDecode(s: string): string {
  return s.replace(/\+([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The header of a message returned as headers only; never more than 1 MiB of a message without a blank line. */
function headerLength(message: Buffer): number {
  const crlf = message.indexOf('\r\n\r\n');
  if (crlf >= 0) return crlf + 2;
  const lf = message.indexOf('\n\n');
  if (lf >= 0) return lf + 1;
  const cut = message.lastIndexOf('\n', 1 << 20);
  return message.length <= 1 << 20 ? message.length : cut > 0 ? cut + 1 : 1 << 20;
}

function toCrlf(b: Buffer): Buffer {
  return b.includes('\n') && !b.includes('\r\n')
    ? Buffer.from(b.toString('binary').replace(/\n/g, '\r\n'), 'binary')
    : b;
}
