/**
 * ManageSieve command framing and tokenising (RFC 5804 §4 grammar), fed bytes, pure. A command is a
 * line of atoms, quoted strings and literals; a literal `{n+}` (or `{n}`: like Dovecot, both are read
 * at once, without a continuation) ends its line and is followed by n octets, then the command goes
 * on. Sizes are checked before any literal byte is kept: over the limit, the literal is read and
 * dropped (up to a skip budget) and the command refused, or, beyond the budget, the connection ends.
 * The SASL exchange (§2.1) reuses the same reader: a client response is a "command" of one string.
 */
export interface ReaderLimits {
  /** One line of a command, without its literals. */
  maxLineBytes: number;
  /** The largest literal kept in memory. */
  maxLiteralBytes: number;
  /** Lines plus literals of one command. */
  maxCommandBytes: number;
  /** Over-limit input of one command read and dropped before the connection is given up. */
  maxSkipBytes: number;
}

export type Token = { type: 'atom'; value: string } | { type: 'string'; value: string; isLiteral: boolean };

export type ReaderEvent =
  | { kind: 'command'; tokens: Token[] }
  /** A syntax error or an overlong line: the command was dropped up to its end. */
  | { kind: 'invalid'; reason: string }
  /** A literal over the limit was read and dropped with the rest of its command. */
  | { kind: 'too-big'; size: number }
  /** Framing cannot go on (more oversized input than the skip budget): BYE and close. */
  | { kind: 'fatal'; reason: string };

export class ManageSieveSyntaxError extends Error {
  override readonly name = 'ManageSieveSyntaxError';
}

/** No ManageSieve command takes more than three arguments; this bounds the token list. */
const MAX_TOKENS = 16;
/** `{` 1*DIGIT [`+`] `}` at the end of a line (RFC 5804 §4); a size too large to be honest is refused as one. */
const LITERAL_HEADER = /\{(\d{1,20})(\+?)\}$/;

export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private lines: Buffer[] = [];
  private literals: Buffer[] = [];
  private literalChunks: Buffer[] = [];
  /** Octets of the current literal still to come; -1 when reading lines. */
  private literalLeft = -1;
  private commandBytes = 0;
  /** Set when the command is being dropped: the event reported at its end instead of the command. */
  private drop: Exclude<ReaderEvent, { kind: 'command' | 'fatal' }> | undefined;
  private skippedBytes = 0;
  private isSkippingLine = false;
  private isDead = false;

  constructor(private limits: ReaderLimits) {}

  /** New limits from the next command on (larger ones once the client has logged in). */
  setLimits(limits: ReaderLimits): void {
    this.limits = limits;
  }

  /** Feeds bytes; returns the events they complete, in order. After a fatal event it takes nothing more. */
  push(chunk: Buffer): ReaderEvent[] {
    if (this.isDead) return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const events: ReaderEvent[] = [];
    for (;;) {
      if (this.literalLeft >= 0) {
        const take = Math.min(this.literalLeft, this.buf.length);
        if (this.drop) {
          if (!this.skip(take)) return this.fatal(events, 'Too much oversized input');
        } else if (take > 0) {
          this.literalChunks.push(this.buf.subarray(0, take));
        }
        this.buf = this.buf.subarray(take);
        this.literalLeft -= take;
        if (this.literalLeft > 0) return events;
        if (!this.drop) this.literals.push(Buffer.concat(this.literalChunks));
        this.literalChunks = [];
        this.literalLeft = -1;
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (this.isSkippingLine) {
        const take = nl < 0 ? this.buf.length : nl + 1;
        if (!this.skip(take)) return this.fatal(events, 'Line too long');
        this.buf = this.buf.subarray(take);
        if (nl < 0) return events;
        // The rest of an overlong line is unknown, so is whether it announced a literal: the command ends here.
        this.isSkippingLine = false;
        this.end(events);
        continue;
      }
      if (nl < 0) {
        if (this.buf.length > this.limits.maxLineBytes) {
          this.drop ??= { kind: 'invalid', reason: 'Line too long' };
          this.isSkippingLine = true;
          continue;
        }
        return events;
      }
      const lineEnd = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
      if (lineEnd > this.limits.maxLineBytes) {
        this.drop ??= { kind: 'invalid', reason: 'Line too long' };
        this.isSkippingLine = true;
        continue;
      }
      const line = Buffer.from(this.buf.subarray(0, lineEnd));
      this.buf = this.buf.subarray(nl + 1);
      this.commandBytes += nl + 1;
      if (this.commandBytes > this.limits.maxCommandBytes)
        this.drop ??= { kind: 'invalid', reason: 'Command too long' };
      const m = LITERAL_HEADER.exec(line.subarray(Math.max(0, line.length - 24)).toString('latin1'));
      if (!m) {
        this.lines.push(line);
        this.end(events);
        continue;
      }
      const size = Number(m[1]);
      this.lines.push(line.subarray(0, line.length - m[0].length));
      if (
        !this.drop &&
        (size > this.limits.maxLiteralBytes || this.commandBytes + size > this.limits.maxCommandBytes)
      ) {
        this.drop = { kind: 'too-big', size };
      }
      // The literal's octets are already on their way: drop them as they come, or give up at once.
      if (this.drop && this.skippedBytes + size > this.limits.maxSkipBytes)
        return this.fatal(events, `Literal of ${size} bytes is too large`);
      this.commandBytes += size;
      this.literalLeft = size;
    }
  }

  private skip(n: number): boolean {
    this.skippedBytes += n;
    return this.skippedBytes <= this.limits.maxSkipBytes;
  }

  private end(events: ReaderEvent[]): void {
    if (this.drop) {
      events.push(this.drop);
    } else {
      try {
        events.push({ kind: 'command', tokens: tokenize(this.lines, this.literals) });
      } catch (err) {
        if (!(err instanceof ManageSieveSyntaxError)) throw err;
        events.push({ kind: 'invalid', reason: err.message });
      }
    }
    this.lines = [];
    this.literals = [];
    this.commandBytes = 0;
    this.skippedBytes = 0;
    this.drop = undefined;
  }

  private fatal(events: ReaderEvent[], reason: string): ReaderEvent[] {
    this.isDead = true;
    this.buf = Buffer.alloc(0);
    this.lines = [];
    this.literals = [];
    this.literalChunks = [];
    events.push({ kind: 'fatal', reason });
    return events;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ManageSieveSyntaxError(`${what} is not valid UTF-8`);
  }
}

/** RFC 5804 §4 ATOM-CHAR: "!" / %x23-27 / %x2A-5B / %x5D-7A / %x7C-7E. */
function isAtomChar(c: number): boolean {
  return (
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    (c >= 0x2a && c <= 0x5b) ||
    (c >= 0x5d && c <= 0x7a) ||
    (c >= 0x7c && c <= 0x7e)
  );
}

/**
 * Tokens of one command: `lines[i]` is followed by `literals[i]` (their headers already removed).
 * Tokens are separated by spaces; quoted strings take `\"` and `\\` escapes only (§4 QUOTED-SPECIALS).
 */
export function tokenize(lines: Buffer[], literals: Buffer[]): Token[] {
  const tokens: Token[] = [];
  let hasSeparator = true; // the first token needs no space before it
  const add = (t: Token) => {
    if (!hasSeparator) throw new ManageSieveSyntaxError('Expected a space between arguments');
    if (tokens.length >= MAX_TOKENS) throw new ManageSieveSyntaxError('Too many arguments');
    tokens.push(t);
    hasSeparator = false;
  };
  lines.forEach((line, i) => {
    let p = 0;
    while (p < line.length) {
      const c = line[p]!;
      if (c === 0x20) {
        hasSeparator = true;
        p++;
      } else if (c === 0x22) {
        const bytes: number[] = [];
        for (p++; ; p++) {
          if (p >= line.length) throw new ManageSieveSyntaxError('Unterminated quoted string');
          let b = line[p]!;
          if (b === 0x22) break;
          if (b === 0x5c) {
            b = line[++p] ?? 0;
            if (b !== 0x22 && b !== 0x5c) throw new ManageSieveSyntaxError('Invalid escape in quoted string');
          } else if (b === 0x00 || b === 0x0d || b === 0x0a) {
            throw new ManageSieveSyntaxError('Invalid character in quoted string');
          }
          bytes.push(b);
        }
        p++;
        add({ type: 'string', value: decode(Uint8Array.from(bytes), 'Quoted string'), isLiteral: false });
      } else if (isAtomChar(c)) {
        const start = p;
        while (p < line.length && isAtomChar(line[p]!)) p++;
        add({ type: 'atom', value: line.subarray(start, p).toString('latin1') });
      } else {
        throw new ManageSieveSyntaxError(c === 0x7b ? 'Invalid literal' : 'Invalid character');
      }
    }
    const literal = literals[i];
    if (literal) add({ type: 'string', value: decode(literal, 'Literal'), isLiteral: true });
  });
  return tokens;
}

/**
 * A string for a response (RFC 5804 §4): quoted with `\` escapes, or a literal `{n}` CRLF octets
 * when it has CR, LF or NUL (which quoted strings cannot carry) or is over 1024 octets.
 */
export function encodeString(s: string): string {
  const size = Buffer.byteLength(s);
  if (size > 1024 || /[\r\n\x00]/.test(s)) return `{${size}}\r\n${s}`;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
