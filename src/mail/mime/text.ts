/**
 * The searchable text of a message for the full-text index: decoded subject and addresses, and the
 * text of its text/plain and text/html parts (transfer encoding and charset decoded, tags dropped).
 */
import libmime from 'libmime';
import { decode as decodeQp } from 'libqp';
import { headerValue } from './headers.js';
import type { BodyPart, ParsedMessage } from './structure.js';

export const MAX_INDEXED_TEXT = 1 << 20; // 1 MiB of body text per message is enough to find it

export interface SearchText {
  subject: string;
  addresses: string;
  body: string;
}

export function searchText(buf: Buffer, parsed: ParsedMessage): SearchText {
  const decode = (v: string | undefined) => (v ? decodeWords(v) : '');
  const addresses = ['from', 'to', 'cc', 'bcc', 'reply-to', 'sender'].map((k) => decode(headerValue(parsed.headers, k))).filter(Boolean).join(' ');
  const chunks: string[] = [];
  let total = 0;
  const walk = (part: BodyPart) => {
    if (total >= MAX_INDEXED_TEXT) return;
    if (part.children.length) {
      part.children.forEach(walk);
      return;
    }
    if (part.type !== 'text' || part.disposition?.type === 'attachment') return;
    let text = decodeBody(buf.subarray(part.bodyStart, part.end), part.encoding, part.params.charset ?? 'us-ascii');
    if (part.subtype === 'html') text = htmlToText(text);
    text = text.slice(0, MAX_INDEXED_TEXT - total);
    total += text.length;
    chunks.push(text);
  };
  walk(parsed.structure);
  return { subject: decode(headerValue(parsed.headers, 'subject')), addresses, body: chunks.join('\n') };
}

/** RFC 2047 encoded words of a header value decoded; the value as it is when they are broken. */
export function decodeWords(value: string): string {
  return safe(() => libmime.decodeWords(value), value);
}

export function decodeBody(raw: Buffer, encoding: string, charset: string): string {
  let bytes: Buffer = raw;
  if (encoding === 'base64') bytes = Buffer.from(raw.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  else if (encoding === 'quoted-printable') bytes = decodeQp(raw.toString('latin1'));
  return decodeCharset(bytes, charset);
}

export function decodeCharset(bytes: Buffer, charset: string): string {
  const label = charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset;
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n) % 0x110000));
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
