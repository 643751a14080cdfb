/**
 * The searchable text of a message for the full-text index: its decoded subject, the decoded text of
 * its other header fields (SEARCH TEXT looks at the whole header, RFC 9051 §6.4.4), and the text of
 * its text/plain and text/html parts (transfer encoding and charset decoded, tags dropped).
 */
import libmime from 'libmime';
import { decode as decodeQp } from 'libqp';
import { headerValue } from './headers.js';
import type { BodyPart, ParsedMessage } from './structure.js';

export const MAX_INDEXED_TEXT = 1 << 20; // 1 MiB of body text per message is enough to find it
const MAX_INDEXED_HEADER = 64 * 1024;

export interface SearchText {
  subject: string;
  /** Every header field but the subject: addresses, X-headers, Message-ID … */
  headers: string;
  body: string;
}

export function searchText(buf: Buffer, parsed: ParsedMessage): SearchText {
  const decode = (v: string | undefined) => (v ? decodeWords(v) : '');
  let headers = '';
  for (const f of parsed.headers) {
    if (f.key === 'subject' || headers.length >= MAX_INDEXED_HEADER) continue;
    headers += `${f.name} ${decode(f.value.slice(0, MAX_INDEXED_HEADER))}\n`;
  }
  headers = headers.slice(0, MAX_INDEXED_HEADER);
  const chunks: string[] = [];
  let total = 0;
  const walk = (part: BodyPart) => {
    if (total >= MAX_INDEXED_TEXT) return;
    if (part.children.length) {
      part.children.forEach(walk);
      return;
    }
    if (part.type !== 'text' || part.disposition?.type === 'attachment') return;
    // No more of a part is decoded than can give the text kept (base64 and quoted-printable at most triple it).
    const raw = buf.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + 4 * (MAX_INDEXED_TEXT - total)));
    let text = decodeBody(raw, part.encoding, part.params.charset ?? 'us-ascii');
    if (part.subtype === 'html') text = htmlToText(text);
    text = text.slice(0, MAX_INDEXED_TEXT - total);
    total += text.length;
    chunks.push(text);
  };
  walk(parsed.structure);
  return { subject: decode(headerValue(parsed.headers, 'subject')), headers, body: chunks.join('\n') };
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

/**
 * Text in a charset. Text said to be US-ASCII (the default, RFC 2045 §5.2) is read as UTF-8; when it
 * is not valid UTF-8 either, its 8-bit bytes were sent without a label and the charset is guessed.
 */
export function decodeCharset(bytes: Buffer, charset: string): string {
  let label = charset;
  if (charset.toLowerCase() === 'us-ascii') {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      label = guessCharset(bytes);
    }
  }
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/**
 * The likely charset of unlabelled 8-bit text that is not UTF-8: a double-byte East Asian one
 * (read as GB18030, a superset of GBK and GB2312) when most 8-bit bytes stand next to another, as
 * the two bytes of a Chinese, Japanese or Korean character do; Windows-1252 otherwise, where an
 * accented letter stands among ASCII ones.
 */
export function guessCharset(bytes: Buffer): string {
  let high = 0;
  let paired = 0;
  const n = Math.min(bytes.length, 64 * 1024);
  for (let i = 0; i < n; i++) {
    if (bytes[i]! < 0x80) continue;
    high++;
    if ((i > 0 && bytes[i - 1]! >= 0x80) || (i + 1 < n && bytes[i + 1]! >= 0x80)) paired++;
  }
  return high >= 8 && paired > high * 0.6 ? 'gb18030' : 'windows-1252';
}

/**
 * The text of an HTML part: tags dropped, script and style elements dropped whole, common entities
 * decoded. A scanner that moves forward only (a regex searching for each "<script" its closing tag
 * is quadratic on a part of many unclosed ones).
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  const out: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt), ' ');
    const element = /^<(script|style)[\s>/]/.exec(lower.slice(lt, lt + 8))?.[1];
    if (element) {
      const close = lower.indexOf(`</${element}`, lt + 1);
      if (close < 0) break; // unclosed: the rest is script, not text
      const gt = html.indexOf('>', close);
      i = gt < 0 ? html.length : gt + 1;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break; // an unclosed tag runs to the end
    i = gt + 1;
  }
  return decodeEntities(out.join(''));
}

function decodeEntities(text: string): string {
  return text
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
