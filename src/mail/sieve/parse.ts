/**
 * Sieve lexer and parser (RFC 5228 §2, grammar in §8): commands, tests, tagged and positional
 * arguments, string lists, quoted and multi-line strings, comments. Bounded: nesting depth and list
 * lengths are limited, and every error carries the line it was found on.
 */

export class SieveError extends Error {
  override readonly name = 'SieveError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export type Arg =
  | { kind: 'tag'; name: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'string'; value: string; line: number }
  | { kind: 'strings'; values: string[]; line: number };

export interface Test {
  name: string;
  args: Arg[];
  tests: Test[];
  line: number;
}

export interface Command extends Test {
  /** The `{ … }` block of if/elsif/else; null for a command ended by ";". */
  block: Command[] | null;
}

export const PARSE_LIMITS = { maxDepth: 32, maxListItems: 1024 };

type Token =
  | { t: 'id'; v: string; line: number }
  | { t: 'tag'; v: string; line: number }
  | { t: 'num'; v: number; line: number }
  | { t: 'str'; v: string; line: number }
  | { t: 'punct'; v: string; line: number }
  | { t: 'end'; line: number };

// RFC 5228 §2.4.1: numbers are unsigned 32-bit values with an optional K, M or G quantifier.
const QUANTIFIER: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const MAX_NUMBER = 2 ** 32 - 1;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SieveError(line, 'unterminated comment');
      line += count(text, '\n', i, end);
      i = end + 2;
    } else if (c === '"') {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new SieveError(start, 'unterminated string');
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < n) {
          // RFC 5228 §2.4.2: "\" followed by any character stands for that character.
          i++;
          value += text[i];
        } else {
          value += d;
        }
        if (text[i] === '\n') line++;
        i++;
      }
      i++;
      tokens.push({ t: 'str', v: value.replace(/\r?\n/g, '\r\n'), line: start });
    } else if (/^text:/i.test(text.slice(i, i + 5))) {
      // RFC 5228 §2.4.2: multi-line string; "." alone ends it, a leading ".." stands for ".".
      const start = line;
      i += 5;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === '#') while (i < n && text[i] !== '\n') i++;
      if (text[i] === '\r') i++;
      if (text[i] !== '\n') throw new SieveError(line, 'text: must be followed by the end of the line');
      i++;
      line++;
      const lines: string[] = [];
      for (;;) {
        if (i >= n) throw new SieveError(start, 'multi-line string not terminated by a line with a single "."');
        let end = text.indexOf('\n', i);
        if (end < 0) end = n;
        const raw = text.slice(i, end).replace(/\r$/, '');
        i = end + 1;
        line++;
        if (raw === '.') break;
        lines.push(raw.startsWith('..') ? raw.slice(1) : raw);
      }
      tokens.push({ t: 'str', v: lines.map((l) => `${l}\r\n`).join(''), line: start });
    } else if (c === ':') {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i, i + 130));
      if (!m) throw new SieveError(line, 'expected a tag name after ":"');
      tokens.push({ t: 'tag', v: m[1]!.toLowerCase(), line });
      i += m[0].length;
    } else if (c >= '0' && c <= '9') {
      const m = /^([0-9]+)([KMGkmg])?/.exec(text.slice(i, i + 40))!;
      const value = Number(m[1]) * (m[2] ? QUANTIFIER[m[2].toUpperCase()]! : 1);
      if (!Number.isSafeInteger(value) || value > MAX_NUMBER) throw new SieveError(line, `number ${m[0]} is too large`);
      tokens.push({ t: 'num', v: value, line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 130))!;
      tokens.push({ t: 'id', v: m[0].toLowerCase(), line });
      i += m[0].length;
    } else if ('[](){},;'.includes(c)) {
      tokens.push({ t: 'punct', v: c, line });
      i++;
    } else {
      throw new SieveError(line, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  tokens.push({ t: 'end', line });
  return tokens;
}

function count(text: string, ch: string, from: number, to: number): number {
  let k = 0;
  for (let i = from; i < to; i++) if (text[i] === ch) k++;
  return k;
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'end':
      return 'end of script';
    case 'str':
      return 'a string';
    case 'num':
      return `number ${tok.v}`;
    case 'tag':
      return `tag :${tok.v}`;
    default:
      return `"${tok.v}"`;
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === v;
  }

  private expect(v: string, what: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v) throw new SieveError(t.line, `expected ${what} but found ${describe(t)}`);
  }

  commands(depth: number): Command[] {
    const out: Command[] = [];
    for (;;) {
      const t = this.peek();
      if (t.t === 'end' || (t.t === 'punct' && t.v === '}')) return out;
      out.push(this.command(depth));
    }
  }

  private command(depth: number): Command {
    const t = this.next();
    if (t.t !== 'id') throw new SieveError(t.line, `expected a command but found ${describe(t)}`);
    const { args, tests } = this.arguments(depth);
    if (this.isPunct(';')) {
      this.next();
      return { name: t.v, args, tests, block: null, line: t.line };
    }
    if (this.isPunct('{')) {
      if (depth >= PARSE_LIMITS.maxDepth) throw new SieveError(t.line, 'blocks nested too deeply');
      this.next();
      const block = this.commands(depth + 1);
      this.expect('}', '"}"');
      return { name: t.v, args, tests, block, line: t.line };
    }
    const found = this.peek();
    throw new SieveError(found.line, `expected ";" or "{" after ${t.v} but found ${describe(found)}`);
  }

  private arguments(depth: number): { args: Arg[]; tests: Test[] } {
    const args: Arg[] = [];
    for (;;) {
      const t = this.peek();
      if (t.t === 'tag') args.push({ kind: 'tag', name: t.v, line: t.line });
      else if (t.t === 'num') args.push({ kind: 'number', value: t.v, line: t.line });
      else if (t.t === 'str') args.push({ kind: 'string', value: t.v, line: t.line });
      else if (t.t === 'punct' && t.v === '[') {
        this.next();
        args.push({ kind: 'strings', values: this.stringList(), line: t.line });
        continue;
      } else break;
      this.next();
      if (args.length > PARSE_LIMITS.maxListItems) throw new SieveError(t.line, 'too many arguments');
    }
    const tests: Test[] = [];
    const t = this.peek();
    if (t.t === 'id') {
      tests.push(this.test(depth));
    } else if (t.t === 'punct' && t.v === '(') {
      if (depth >= PARSE_LIMITS.maxDepth) throw new SieveError(t.line, 'tests nested too deeply');
      this.next();
      for (;;) {
        tests.push(this.test(depth + 1));
        if (tests.length > PARSE_LIMITS.maxListItems) throw new SieveError(t.line, 'too many tests in a list');
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        this.expect(')', '"," or ")" in a test list');
        break;
      }
    }
    return { args, tests };
  }

  private test(depth: number): Test {
    const t = this.next();
    if (t.t !== 'id') throw new SieveError(t.line, `expected a test but found ${describe(t)}`);
    if (depth >= PARSE_LIMITS.maxDepth) throw new SieveError(t.line, 'tests nested too deeply');
    const { args, tests } = this.arguments(depth + 1);
    return { name: t.v, args, tests, line: t.line };
  }

  private stringList(): string[] {
    const values: string[] = [];
    for (;;) {
      const t = this.next();
      if (t.t !== 'str') throw new SieveError(t.line, `expected a string in the list but found ${describe(t)}`);
      values.push(t.v);
      if (values.length > PARSE_LIMITS.maxListItems) throw new SieveError(t.line, 'string list too long');
      const sep = this.next();
      if (sep.t === 'punct' && sep.v === ']') return values;
      if (sep.t !== 'punct' || sep.v !== ',')
        throw new SieveError(sep.line, `expected "," or "]" but found ${describe(sep)}`);
    }
  }

  end(): void {
    const t = this.peek();
    if (t.t !== 'end') throw new SieveError(t.line, `unexpected ${describe(t)}`);
  }
}

export function parseScript(text: string): Command[] {
  const parser = new Parser(tokenize(text));
  const commands = parser.commands(0);
  parser.end();
  return commands;
}
