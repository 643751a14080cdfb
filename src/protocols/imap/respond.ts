import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { quoted, quotedAscii } from '../../mail/mime/imap-envelope.js';

/**
 * How values go on the wire (RFC 9051 §4): atoms, quoted strings, literals, NIL and lists. The one
 * place that decides quoting: a string that cannot be quoted safely becomes a literal.
 */
export type Value = string | number | null | Buffer | Literal | StreamLiteral | Atom | Concat | Value[];

/** A literal read from a stream as it is sent (BODY[] of a stored message), never held whole. */
export class StreamLiteral {
  constructor(
    readonly size: number,
    readonly open: () => Readable,
  ) {}
}

export type Part = string | Buffer | StreamLiteral;

/** A multipart body (RFC 9051 §9 body-type-mpart): "(" bodies without separators, SP, rest ")". */
export class Concat {
  constructor(
    readonly bodies: Value[],
    readonly rest: Value[],
  ) {}
}

/** A string sent as-is (flags, keywords, section names). */
export class Atom {
  /** `isAscii`: known to be 7-bit (the stored envelope text), so not scanned again on every FETCH. */
  constructor(
    readonly text: string,
    readonly isAscii = false,
  ) {}
}
export const atom = (text: string) => new Atom(text);

/** Forces literal form (message content). `isBinary`: BINARY data, sent as literal8 `~{n}` when it holds NUL (RFC 3516 §4.2). */
export class Literal {
  constructor(
    readonly data: Buffer,
    readonly isBinary = false,
  ) {}
}

/**
 * An untagged response (RFC 9051 §2.2.2): `* `, the values separated by spaces, CRLF. Text is
 * gathered as one latin1 string (one character per byte), so a response becomes a few large pieces
 * rather than one small buffer per token.
 */
export function encodeUntagged(values: Value[], utf8: boolean): Part[] {
  const out: Part[] = ['* '];
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text(out, ' ');
    write(values[i]!, out, utf8);
  }
  text(out, '\r\n');
  return out;
}

/** Values separated by spaces, without the "* " and CRLF of a whole response: one FETCH item. */
export function encodeValues(values: Value[], utf8: boolean): Part[] {
  const out: Part[] = [];
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text(out, ' ');
    write(values[i]!, out, utf8);
  }
  return out;
}

/** Appends wire text (ASCII or latin1 bytes) to the last text part. */
function text(out: Part[], t: string): void {
  const last = out.length - 1;
  if (last >= 0 && typeof out[last] === 'string') out[last] += t;
  else out.push(t);
}

function write(v: Value, out: Part[], utf8: boolean): void {
  if (v === null) text(out, 'NIL');
  else if (typeof v === 'number') text(out, String(v));
  else if (v instanceof Atom)
    text(out, !v.isAscii && /[^\x00-\x7f]/.test(v.text) ? Buffer.from(v.text, 'utf8').toString('latin1') : v.text);
  else if (typeof v === 'string') writeText(v, out, utf8);
  else if (Array.isArray(v)) {
    text(out, '(');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) text(out, ' ');
      write(v[i]!, out, utf8);
    }
    text(out, ')');
  } else if (Buffer.isBuffer(v)) writeString(v, out, utf8);
  else if (v instanceof Concat) {
    text(out, '(');
    for (const b of v.bodies) write(b, out, utf8);
    for (const r of v.rest) {
      text(out, ' ');
      write(r, out, utf8);
    }
    text(out, ')');
  } else if (v instanceof StreamLiteral) {
    text(out, `{${v.size}}\r\n`);
    out.push(v);
  } else {
    text(out, `${v.isBinary && v.data.includes(0) ? '~' : ''}{${v.data.length}}\r\n`);
    out.push(v.data);
  }
}

/** A JavaScript string: quoted when it is short ASCII without CR/LF/NUL, else as UTF-8 bytes. */
function writeText(s: string, out: Part[], utf8: boolean): void {
  const q = quotedAscii(s);
  if (q !== undefined) text(out, q);
  else writeString(Buffer.from(s, 'utf8'), out, utf8);
}

/** Bytes: quoted when they are short, have no CR/LF/NUL and are ASCII (or UTF-8 the client accepts). */
function writeString(b: Buffer, out: Part[], utf8: boolean): void {
  if (b.length < 1024) {
    const bytes = b.toString('latin1');
    const q = quotedAscii(bytes);
    if (q !== undefined) return text(out, q);
    if (utf8 && !/[\r\n\0]/.test(bytes) && isUtf8(b)) return text(out, quoted(bytes));
  }
  text(out, `{${b.length}}\r\n`);
  out.push(b);
}

/** Joins encoded pieces (without streams) into one buffer for the socket; text parts are latin1. */
export function toBuffer(parts: Array<string | Buffer>): Buffer {
  if (parts.length === 1 && typeof parts[0] === 'string') return Buffer.from(parts[0], 'latin1');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}
