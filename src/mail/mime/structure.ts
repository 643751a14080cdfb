/**
 * MIME structure (RFC 2045/2046) with byte offsets, computed once when a message is stored so that
 * IMAP BODYSTRUCTURE, ENVELOPE and BODY[section] never re-parse the message. Bounded: nesting depth
 * and part count are capped; what lies beyond is treated as opaque body.
 */
import libmime from 'libmime';
import addressparser, { type ParsedAddress } from 'nodemailer/lib/addressparser';
import { headerEnd, headerValue, parseHeaders, type HeaderField } from './headers.js';
import { envelopeWire } from './imap-envelope.js';

export const MAX_DEPTH = 32;
export const MAX_PARTS = 2000;

export interface EnvelopeAddress {
  name: string | null;
  mailbox: string | null;
  host: string | null;
  /** Group start (name set, mailbox/host null) or end (all null) markers as in RFC 3501 §7.4.2. */
  group?: 'start' | 'end';
  /** An obsolete source route (RFC 5322 §4.4 obs-route, "@a,@b"), the envelope's adl. */
  route?: string;
}

/** RFC 3501 §7.4.2 ENVELOPE: raw header values, addresses split. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[];
  sender: EnvelopeAddress[];
  replyTo: EnvelopeAddress[];
  to: EnvelopeAddress[];
  cc: EnvelopeAddress[];
  bcc: EnvelopeAddress[];
  inReplyTo: string | null;
  messageId: string | null;
}

export interface BodyPart {
  type: string;
  subtype: string;
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string | null;
  location: string | null;
  /** Offsets into the message: header block start, body start, end of part. */
  headerStart: number;
  bodyStart: number;
  end: number;
  /** Lines of the body, for text/* and message/rfc822. */
  lines: number;
  children: BodyPart[];
  /** For message/rfc822: the enclosed message's envelope (its structure is children[0]). */
  envelope?: Envelope;
}

export interface ParsedMessage {
  headers: HeaderField[];
  envelope: Envelope;
  /** The envelope as IMAP wire text when it is plain ASCII (imap-envelope.ts), else null. */
  envelopeWire: string | null;
  structure: BodyPart;
}

export function parseMessage(buf: Buffer): ParsedMessage {
  const counter = { parts: 0 };
  const structure = parsePart(buf, 0, buf.length, 0, counter, null);
  const headers = parseHeaders(buf.subarray(0, structure.bodyStart).toString('latin1'));
  const envelope = buildEnvelope(headers);
  return { headers, envelope, envelopeWire: envelopeWire(envelope), structure };
}

function parsePart(
  buf: Buffer,
  start: number,
  end: number,
  depth: number,
  counter: { parts: number },
  defaultType: string | null,
): BodyPart {
  counter.parts++;
  const bodyStart = headerEnd(buf, start, end);
  const fields = parseHeaders(buf.subarray(start, bodyStart).toString('latin1'));
  const ct = libmime.parseHeaderValue(
    headerValue(fields, 'content-type') ?? defaultType ?? 'text/plain; charset=us-ascii',
  );
  let [type, subtype] = ct.value.toLowerCase().split('/') as [string, string | undefined];
  if (!subtype || !type) [type, subtype] = ['text', 'plain'];
  const params = lowerKeys(ct.params);
  if (type === 'text' && !params.charset) params.charset = 'us-ascii';
  const cd = headerValue(fields, 'content-disposition');
  const dispo = cd ? libmime.parseHeaderValue(cd) : null;
  const part: BodyPart = {
    type,
    subtype,
    params,
    id: headerValue(fields, 'content-id') ?? null,
    description: headerValue(fields, 'content-description') ?? null,
    encoding: (headerValue(fields, 'content-transfer-encoding') ?? '7bit').toLowerCase(),
    md5: headerValue(fields, 'content-md5') ?? null,
    disposition: dispo ? { type: dispo.value.toLowerCase(), params: lowerKeys(dispo.params) } : null,
    language: headerValue(fields, 'content-language') ?? null,
    location: headerValue(fields, 'content-location') ?? null,
    headerStart: start,
    bodyStart,
    end,
    lines: 0,
    children: [],
  };
  const canDescend = depth < MAX_DEPTH && counter.parts < MAX_PARTS;
  if (type === 'multipart' && params.boundary && canDescend) {
    const childDefault = subtype === 'digest' ? 'message/rfc822' : null;
    for (const [s, e] of splitMultipart(buf, bodyStart, end, params.boundary, MAX_PARTS - counter.parts)) {
      if (counter.parts >= MAX_PARTS) break;
      part.children.push(parsePart(buf, s, e, depth + 1, counter, childDefault));
    }
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && canDescend) {
    const inner = parsePart(buf, bodyStart, end, depth + 1, counter, null);
    part.children.push(inner);
    part.envelope = buildEnvelope(parseHeaders(buf.subarray(bodyStart, inner.bodyStart).toString('latin1')));
    part.lines = countLines(buf, bodyStart, end);
  } else if (type === 'text') {
    part.lines = countLines(buf, bodyStart, end);
  }
  return part;
}

/**
 * Body ranges between `--boundary` lines (RFC 2046 §5.1.1); the CRLF before a delimiter belongs to it.
 * At most `maxRanges`: the scan stops there, so millions of delimiters cost no more than the limit.
 */
function splitMultipart(
  buf: Buffer,
  start: number,
  end: number,
  boundary: string,
  maxRanges: number,
): Array<[number, number]> {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const ranges: Array<[number, number]> = [];
  let partStart = -1;
  let pos = start;
  while (pos < end) {
    const found = buf.indexOf(delimiter, pos);
    if (found < 0 || found >= end) break;
    const atLineStart = found === start || buf[found - 1] === 0x0a;
    const after = found + delimiter.length;
    if (!atLineStart) {
      pos = after;
      continue;
    }
    const isClose = buf[after] === 0x2d && buf[after + 1] === 0x2d;
    let lineEnd = buf.indexOf(0x0a, after);
    lineEnd = lineEnd < 0 || lineEnd >= end ? end : lineEnd + 1;
    if (partStart >= 0) {
      let partEnd = found;
      if (partEnd > partStart && buf[partEnd - 1] === 0x0a) partEnd--;
      if (partEnd > partStart && buf[partEnd - 1] === 0x0d) partEnd--;
      ranges.push([partStart, Math.max(partStart, partEnd)]);
      if (ranges.length >= maxRanges) return ranges;
    }
    if (isClose) return ranges;
    partStart = lineEnd;
    pos = lineEnd;
  }
  if (partStart >= 0 && partStart < end) ranges.push([partStart, end]); // no closing delimiter
  return ranges;
}

function countLines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, start); i >= 0 && i < end; i = buf.indexOf(0x0a, i + 1)) n++;
  if (end > start && buf[end - 1] !== 0x0a) n++;
  return n;
}

function lowerKeys(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) out[k.toLowerCase()] = v;
  return out;
}

export function buildEnvelope(fields: HeaderField[]): Envelope {
  const addresses = (key: string): EnvelopeAddress[] => {
    const v = headerValue(fields, key);
    if (!v) return [];
    // addressparser drops a source route (<@route:user@domain>): kept aside for the envelope's adl.
    const routes = new Map<string, string>();
    // The address is matched up to its '>' within a bounded length: a search for '>' from every
    // `<@x:` to the end of the value would be quadratic in a header of many of them.
    const cleaned = v.replace(/<\s*(@[^:<>"]{1,200}):([^<>]{0,512})>/g, (_whole, route: string, address: string) => {
      routes.set(address.trim().toLowerCase(), route.trim());
      return `<${address}>`;
    });
    return toEnvelopeAddresses(addressparser(cleaned), routes);
  };
  const from = addresses('from');
  const sender = addresses('sender');
  const replyTo = addresses('reply-to');
  return {
    date: headerValue(fields, 'date') ?? null,
    subject: headerValue(fields, 'subject') ?? null,
    from,
    // RFC 3501 §7.4.2: Sender and Reply-To default to From.
    sender: sender.length ? sender : from,
    replyTo: replyTo.length ? replyTo : from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: headerValue(fields, 'in-reply-to') ?? null,
    messageId: headerValue(fields, 'message-id') ?? null,
  };
}

function toEnvelopeAddresses(list: ParsedAddress[], routes: Map<string, string> = new Map()): EnvelopeAddress[] {
  const out: EnvelopeAddress[] = [];
  for (const a of list) {
    if (a.group) {
      out.push({ name: null, mailbox: a.name || null, host: null, group: 'start' });
      out.push(...toEnvelopeAddresses(a.group, routes));
      out.push({ name: null, mailbox: null, host: null, group: 'end' });
      continue;
    }
    const address = a.address ?? '';
    if (address === '' && a.group === undefined) continue; // only a comment, "(foo)": no address (RFC 5322 §3.4)
    const at = address.lastIndexOf('@');
    const route = routes.get(address.toLowerCase());
    out.push({
      name: a.name || null,
      mailbox: at > 0 ? address.slice(0, at) : address || null,
      host: at > 0 ? address.slice(at + 1) : null,
      ...(route ? { route } : {}),
    });
  }
  return out;
}

/**
 * The one mailbox of an author field (RFC 5322 §3.6.2 `From: a@example.com`), or undefined when the
 * value holds none, several, a group, or an address without a domain: the field DMARC (RFC 7489
 * §6.6.1) judges must name exactly one domain.
 */
export function singleMailbox(value: string): string | undefined {
  const parsed = addressparser(value);
  if (parsed.length !== 1) return undefined;
  const only = parsed[0]!;
  if (only.group !== undefined || !only.address) return undefined;
  const at = only.address.lastIndexOf('@');
  return at > 0 && at < only.address.length - 1 ? only.address : undefined;
}

/** Addresses of a header as plain `local@domain` strings (group members included). */
export function headerAddresses(value: string): string[] {
  const flat = addressparser(value, { flatten: true });
  return flat.map((a) => a.address ?? '').filter((a) => a.includes('@'));
}
