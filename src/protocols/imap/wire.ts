/**
 * IMAP command framing and tokenising (RFC 9051 §2.2, §4, RFC 3501 §9 grammar), fed bytes, pure.
 * A frame is one command: its line segments and the literals between them. Literal lengths are
 * checked against the limits before any literal byte is accepted; a synchronising literal {n} asks
 * the session to send "+" (or to refuse it), a non-synchronising one {n+} (RFC 7888) must fit the
 * limit or the connection is closed, since its bytes are already on the way.
 */
export interface WireLimits {
  maxLineBytes: number;
  maxLiteralBytes: number;
  maxCommandBytes: number;
}

export type WireEvent =
  | { kind: 'frame'; segments: Array<string | Buffer> }
  | { kind: 'continue' } // a synchronising literal is accepted: send "+ ..."
  | { kind: 'reject-literal'; tag: string; size: number } // refuse before the data is sent
  | { kind: 'fatal'; reason: string } // framing cannot recover: BYE and close
  | { kind: 'too-long'; tag: string }; // line over the limit: skipped up to its end

export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private segments: Array<string | Buffer> = [];
  private literalLeft = -1;
  private commandBytes = 0;
  private skippingLine = false;
  private skipTag = '';

  constructor(private readonly limits: WireLimits) {}

  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Buffer): WireEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const events: WireEvent[] = [];
    for (;;) {
      if (this.literalLeft >= 0) {
        if (this.buf.length < this.literalLeft) return events;
        this.segments.push(Buffer.from(this.buf.subarray(0, this.literalLeft)));
        this.buf = this.buf.subarray(this.literalLeft);
        this.literalLeft = -1;
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (this.skippingLine) {
        if (nl < 0) {
          this.buf = Buffer.alloc(0);
          return events;
        }
        this.buf = this.buf.subarray(nl + 1);
        this.skippingLine = false;
        events.push({ kind: 'too-long', tag: this.skipTag });
        this.reset();
        continue;
      }
      if (nl < 0) {
        if (this.buf.length > this.limits.maxLineBytes) {
          this.skipTag = tagOf(this.segments, this.buf);
          this.skippingLine = true;
          this.buf = Buffer.alloc(0);
        }
        return events;
      }
      if (nl > this.limits.maxLineBytes) {
        this.skipTag = tagOf(this.segments, this.buf);
        this.buf = this.buf.subarray(nl + 1);
        events.push({ kind: 'too-long', tag: this.skipTag });
        this.reset();
        continue;
      }
      const lineEnd = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = this.buf.subarray(0, lineEnd).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      this.commandBytes += nl + 1;
      const m = /\{(\d{1,20})(\+?)\}$/.exec(line);
      if (!m) {
        this.segments.push(line);
        events.push({ kind: 'frame', segments: this.segments });
        this.reset();
        continue;
      }
      const size = Number(m[1]);
      const isSync = m[2] !== '+';
      this.segments.push(line.slice(0, m.index));
      const tooBig = size > this.limits.maxLiteralBytes || this.commandBytes + size > this.limits.maxCommandBytes;
      if (tooBig) {
        if (!isSync) {
          events.push({ kind: 'fatal', reason: `literal of ${size} bytes is over the limit` });
          this.buf = Buffer.alloc(0);
          return events;
        }
        events.push({ kind: 'reject-literal', tag: tagOf(this.segments, Buffer.alloc(0)), size });
        this.reset();
        continue;
      }
      this.commandBytes += size;
      this.literalLeft = size;
      if (isSync) events.push({ kind: 'continue' });
    }
  }

  private reset(): void {
    this.segments = [];
    this.commandBytes = 0;
  }
}

function tagOf(segments: Array<string | Buffer>, rest: Buffer): string {
  const first = typeof segments[0] === 'string' ? segments[0] : rest.subarray(0, 200).toString('latin1');
  const m = /^([^\s(){%*"\\\]]+) /.exec(first);
  return m ? m[1]! : '*';
}

export type Token =
  | { type: 'atom'; value: string }
  | { type: 'string'; value: Buffer; isLiteral: boolean }
  | { type: 'list'; items: Token[] }
  | { type: 'nil' };

export class ImapSyntaxError extends Error {
  override readonly name = 'ImapSyntaxError';
}

const MAX_DEPTH = 32;
const MAX_TOKENS = 100_000;

/** Splits a frame into tag, command name and argument tokens. */
export function tokenize(segments: Array<string | Buffer>): { tag: string; tokens: Token[] } {
  const t = new Tokenizer(segments);
  const tag = t.tag();
  const tokens = t.rest();
  return { tag, tokens };
}

class Tokenizer {
  private seg = 0;
  private pos = 0;
  private count = 0;

  constructor(private readonly segments: Array<string | Buffer>) {}

  private get text(): string {
    const s = this.segments[this.seg];
    return typeof s === 'string' ? s : '';
  }

  tag(): string {
    const m = /^([\x21-\x7e]+?) /.exec(this.text) ?? /^([\x21-\x7e]+)$/.exec(this.text);
    if (!m || /[(){%*"\\+]/.test(m[1]!)) throw new ImapSyntaxError('missing or invalid tag');
    this.pos = m[1]!.length;
    return m[1]!;
  }

  rest(): Token[] {
    const out: Token[] = [];
    for (;;) {
      this.skipSpace();
      if (this.atEnd()) return out;
      out.push(this.token(0));
    }
  }

  private atEnd(): boolean {
    return this.seg >= this.segments.length || (this.seg === this.segments.length - 1 && this.pos >= this.text.length);
  }

  private skipSpace(): void {
    for (;;) {
      const s = this.segments[this.seg];
      if (s === undefined) return;
      if (typeof s !== 'string') return;
      while (this.pos < s.length && s[this.pos] === ' ') this.pos++;
      if (this.pos < s.length || this.seg === this.segments.length - 1) return;
      this.seg++;
      this.pos = 0;
    }
  }

  private token(depth: number): Token {
    if (++this.count > MAX_TOKENS) throw new ImapSyntaxError('too many tokens');
    const s = this.segments[this.seg];
    if (typeof s !== 'string') {
      this.seg++;
      this.pos = 0;
      return { type: 'string', value: s!, isLiteral: true };
    }
    if (this.pos >= s.length) {
      // a literal follows this (empty) segment end
      this.seg++;
      this.pos = 0;
      return this.token(depth);
    }
    const c = s[this.pos]!;
    if (c === '(') {
      if (depth >= MAX_DEPTH) throw new ImapSyntaxError('lists nested too deeply');
      this.pos++;
      const items: Token[] = [];
      for (;;) {
        this.skipSpace();
        if (this.atEnd()) throw new ImapSyntaxError('unbalanced parentheses');
        const cur = this.segments[this.seg];
        if (typeof cur === 'string' && cur[this.pos] === ')') {
          this.pos++;
          return { type: 'list', items };
        }
        items.push(this.token(depth + 1));
      }
    }
    if (c === '"') return this.quoted(s);
    if (c === ')') throw new ImapSyntaxError('unexpected ")"');
    return this.atom(s);
  }

  private quoted(s: string): Token {
    let out = '';
    let i = this.pos + 1;
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\\') {
        const next = s[i + 1];
        if (next !== '"' && next !== '\\') throw new ImapSyntaxError('invalid escape in quoted string');
        out += next;
        i++;
      } else if (ch === '"') {
        this.pos = i + 1;
        return { type: 'string', value: Buffer.from(out, 'utf8'), isLiteral: false };
      } else out += ch;
    }
    throw new ImapSyntaxError('unterminated quoted string');
  }

  /** An atom; brackets (BODY[HEADER.FIELDS (A B)]) and a partial <n.m> belong to it. */
  private atom(s: string): Token {
    let i = this.pos;
    let bracket = 0;
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '[') bracket++;
      else if (ch === ']') {
        if (bracket === 0) break;
        bracket--;
      } else if (bracket === 0 && (ch === ' ' || ch === '(' || ch === ')' || ch === '"')) break;
      else if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) throw new ImapSyntaxError('control character in atom');
    }
    if (bracket !== 0) throw new ImapSyntaxError('unbalanced brackets');
    const value = s.slice(this.pos, i);
    if (value === '') throw new ImapSyntaxError('empty atom');
    this.pos = i;
    return value.toUpperCase() === 'NIL' ? { type: 'nil' } : { type: 'atom', value };
  }
}

/** Token as text: atoms and strings alike (astring, RFC 9051 §9). */
export function astring(t: Token | undefined): string {
  if (!t) throw new ImapSyntaxError('missing argument');
  if (t.type === 'atom') return t.value;
  if (t.type === 'string') return t.value.toString('utf8');
  throw new ImapSyntaxError('expected a string');
}
