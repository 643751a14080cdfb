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

const EMPTY = Buffer.alloc(0);
/** `{` 1*DIGIT [`+`] `}` at the end of a line (RFC 9051 §4.3, RFC 7888); 20 digits is more than any honest size. */
const LITERAL_HEADER = /\{(\d{1,20})(\+?)\}$/;

/**
 * Pulls one event at a time from the bytes pushed so far. Every byte is looked at once: a line is
 * gathered from the chunks it spans and joined when its end is found, a literal from its chunks
 * once it is complete, so a 50 MB APPEND costs one copy, not one per chunk.
 */
export class FrameReader {
  /** Unparsed input, oldest first; `head` is the first chunk's unparsed rest. */
  private chunks: Buffer[] = [];
  private head: Buffer = EMPTY;
  private unparsed = 0;
  /** The line being gathered, in pieces. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private segments: Array<string | Buffer> = [];
  private literal: Buffer[] = [];
  private literalLeft = -1;
  private commandBytes = 0;
  private skippingLine = false;
  private skipTag = '';
  private isDead = false;

  constructor(private limits: WireLimits) {}

  /** New limits from the next command on (larger ones once the client has logged in). */
  setLimits(limits: WireLimits): void {
    this.limits = limits;
  }

  get bufferedBytes(): number {
    return this.unparsed;
  }

  push(chunk: Buffer): void {
    if (this.isDead || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unparsed += chunk.length;
  }

  discard(): number {
    const dropped = this.unparsed + this.lineBytes + this.literal.reduce((n, b) => n + b.length, 0);
    this.chunks = [];
    this.head = EMPTY;
    this.unparsed = 0;
    this.line = [];
    this.lineBytes = 0;
    this.literal = [];
    this.literalLeft = -1;
    this.skippingLine = false;
    this.reset();
    return dropped;
  }

  /** The next event the input so far completes, or undefined. */
  next(): WireEvent | undefined {
    for (;;) {
      if (this.isDead) return undefined;
      if (this.head.length === 0) {
        const chunk = this.chunks.shift();
        if (!chunk) return undefined;
        this.head = chunk;
      }
      if (this.literalLeft >= 0) {
        const take = Math.min(this.literalLeft, this.head.length);
        this.literal.push(this.head.subarray(0, take));
        this.consume(take);
        this.literalLeft -= take;
        if (this.literalLeft > 0) continue;
        this.segments.push(this.literal.length === 1 ? Buffer.from(this.literal[0]!) : Buffer.concat(this.literal));
        this.literal = [];
        this.literalLeft = -1;
        continue;
      }
      const nl = this.head.indexOf(0x0a);
      if (this.skippingLine) {
        if (nl < 0) {
          this.consume(this.head.length);
          continue;
        }
        this.consume(nl + 1);
        this.skippingLine = false;
        this.reset();
        return { kind: 'too-long', tag: this.skipTag };
      }
      if (nl < 0) {
        this.line.push(this.head);
        this.lineBytes += this.head.length;
        this.consume(this.head.length);
        if (this.lineBytes > this.limits.maxLineBytes) this.startSkipping();
        continue;
      }
      this.line.push(this.head.subarray(0, nl + 1));
      this.lineBytes += nl + 1;
      this.consume(nl + 1);
      if (this.lineBytes - 1 > this.limits.maxLineBytes) {
        this.startSkipping();
        this.skippingLine = false;
        this.reset();
        return { kind: 'too-long', tag: this.skipTag };
      }
      const raw = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineBytes);
      this.line = [];
      this.commandBytes += this.lineBytes;
      this.lineBytes = 0;
      const end = raw.length > 1 && raw[raw.length - 2] === 0x0d ? raw.length - 2 : raw.length - 1;
      const text = raw.toString('utf8', 0, end);
      const m = LITERAL_HEADER.exec(text);
      if (!m) {
        this.segments.push(text);
        const frame: WireEvent = { kind: 'frame', segments: this.segments };
        this.reset();
        return frame;
      }
      const size = Number(m[1]);
      const isSync = m[2] !== '+';
      this.segments.push(text.slice(0, m.index));
      if (size > this.limits.maxLiteralBytes || this.commandBytes + size > this.limits.maxCommandBytes) {
        if (!isSync) {
          // Its bytes are already on the way and cannot be told apart from commands: give up (RFC 7888 §4).
          this.isDead = true;
          return { kind: 'fatal', reason: `literal of ${size} bytes is over the limit` };
        }
        const tag = tagOf(this.segments, EMPTY);
        this.reset();
        return { kind: 'reject-literal', tag, size };
      }
      this.commandBytes += size;
      this.literalLeft = size;
      if (isSync) return { kind: 'continue' };
    }
  }

  private consume(n: number): void {
    this.head = n >= this.head.length ? EMPTY : this.head.subarray(n);
    this.unparsed -= n;
  }

  /** The line is over the limit: what was gathered is dropped, and the rest up to its end is skipped. */
  private startSkipping(): void {
    this.skipTag = tagOf(this.segments, Buffer.concat(this.line).subarray(0, 200));
    this.line = [];
    this.lineBytes = 0;
    this.skippingLine = true;
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
  /** `isBinary`: a literal8 `~{n}` (RFC 3516 §4.2), which may hold NUL. */
  | { type: 'string'; value: Buffer; isLiteral: boolean; isBinary?: boolean }
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
    // RFC 3516 §4.2 literal8: "~" right before a literal ({n} ends this segment, the data is the next one).
    if (
      c === '~' &&
      this.pos === s.length - 1 &&
      this.seg + 1 < this.segments.length &&
      typeof this.segments[this.seg + 1] !== 'string'
    ) {
      this.seg++;
      const data = this.segments[this.seg] as Buffer;
      this.seg++;
      this.pos = 0;
      return { type: 'string', value: data, isLiteral: true, isBinary: true };
    }
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

  /**
   * An atom; brackets (BODY[HEADER.FIELDS (A B)]) and a partial <n.m> belong to it. A "[" without
   * a "]" after it is an ordinary character (ASTRING-CHAR, RFC 9051 §9: mailbox names may hold it).
   */
  private atom(s: string): Token {
    let i = this.pos;
    let bracket = 0;
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '[') {
        if (s.indexOf(']', i + 1) >= 0) bracket++;
      } else if (ch === ']') {
        if (bracket === 0) break;
        bracket--;
      } else if (bracket === 0 && (ch === ' ' || ch === '(' || ch === ')' || ch === '"')) break;
      else if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)
        throw new ImapSyntaxError('control character in atom');
    }
    if (bracket !== 0) throw new ImapSyntaxError('unbalanced brackets');
    const value = s.slice(this.pos, i);
    if (value === '') throw new ImapSyntaxError('empty atom');
    this.pos = i;
    return value.toUpperCase() === 'NIL' ? { type: 'nil' } : { type: 'atom', value };
  }
}

/** Token as text: atoms and strings alike (astring, RFC 9051 §9); NIL is the atom "NIL" there. */
export function astring(t: Token | undefined): string {
  if (!t) throw new ImapSyntaxError('missing argument');
  if (t.type === 'atom') return t.value;
  if (t.type === 'nil') return 'NIL';
  if (t.type === 'string') return t.value.toString('utf8');
  throw new ImapSyntaxError('expected a string');
}
