import type { Readable } from 'node:stream';

/**
 * How values go on the wire (RFC 9051 §4): atoms, quoted strings, literals, NIL and lists. The one
 * place that decides quoting: a string that cannot be quoted safely becomes a literal.
 */
export type Value = string | number | null | Buffer | Literal | StreamLiteral | Atom | Concat | Value[];

/** A literal read from a stream as it is sent (BODY[] of a stored message), never held whole. */
export class StreamLiteral {
  constructor(readonly size: number, readonly open: () => Readable) {}
}

export type Part = string | Buffer | StreamLiteral;

/** A multipart body (RFC 9051 §9 body-type-mpart): "(" bodies without separators, SP, rest ")". */
export class Concat {
  constructor(readonly bodies: Value[], readonly rest: Value[]) {}
}

/** A string sent as-is (flags, keywords, section names). */
export class Atom {
  constructor(readonly text: string) {}
}
export const atom = (text: string) => new Atom(text);

/** Forces literal form (message content). */
export class Literal {
  constructor(readonly data: Buffer) {}
}


export function encode(v: Value, utf8 = true): Part[] {
  const out: Part[] = [];
  write(v, out, utf8);
  return out;
}

function write(v: Value, out: Part[], utf8: boolean): void {
  if (v === null) out.push('NIL');
  else if (typeof v === 'number') out.push(String(v));
  else if (v instanceof Atom) out.push(v.text);
  else if (v instanceof Concat) {
    out.push('(');
    for (const b of v.bodies) write(b, out, utf8);
    for (const r of v.rest) {
      out.push(' ');
      write(r, out, utf8);
    }
    out.push(')');
  }
  else if (v instanceof StreamLiteral) {
    out.push(`{${v.size}}\r\n`);
    out.push(v);
  } else if (v instanceof Literal) {
    out.push(`{${v.data.length}}\r\n`);
    out.push(v.data);
  } else if (Buffer.isBuffer(v)) writeString(v, out, utf8);
  else if (Array.isArray(v)) {
    out.push('(');
    v.forEach((item, i) => {
      if (i > 0) out.push(' ');
      write(item, out, utf8);
    });
    out.push(')');
  } else writeString(Buffer.from(v, 'utf8'), out, utf8);
}

function writeString(b: Buffer, out: Part[], utf8: boolean): void {
  const s = b.toString('utf8');
  const isAscii = !/[^\x00-\x7f]/.test(s);
  if (b.length < 1024 && !/[\r\n\0]/.test(s) && (isAscii || utf8) && Buffer.from(s, 'utf8').equals(b)) {
    out.push('"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"');
    return;
  }
  out.push(`{${b.length}}\r\n`);
  out.push(b);
}

/** Joins encoded pieces (without streams) into one buffer for the socket. */
export function toBuffer(parts: Array<string | Buffer>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}
