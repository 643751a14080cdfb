import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandReader,
  encodeString,
  ManageSieveSyntaxError,
  tokenize,
  type ReaderEvent,
  type Token,
} from './parse.js';

const LIMITS = { maxLineBytes: 100, maxLiteralBytes: 50, maxCommandBytes: 300, maxSkipBytes: 1000 };
const feed = (r: CommandReader, s: string | Buffer) => r.push(typeof s === 'string' ? Buffer.from(s) : s);
const values = (ev: ReaderEvent | undefined) => {
  assert.equal(ev?.kind, 'command', JSON.stringify(ev));
  return (ev as Extract<ReaderEvent, { kind: 'command' }>).tokens.map((t) =>
    t.type === 'atom' ? `atom:${t.value}` : t.isLiteral ? `lit:${t.value}` : `str:${t.value}`,
  );
};
const tokens = (line: string, ...literals: string[]): Token[] => {
  const lines = line.split('\u0001').map((l) => Buffer.from(l));
  return tokenize(
    lines,
    literals.map((l) => Buffer.from(l)),
  );
};

describe('ManageSieve framing', () => {
  it('reads the RFC 5804 §2.6 PUTSCRIPT example with a {n+} literal, byte by byte', () => {
    const text = 'PUTSCRIPT "foo" {31+}\r\n#comment\r\nInvalidSieveCommand\r\n\r\n';
    const r = new CommandReader(LIMITS);
    const events: ReaderEvent[] = [];
    for (const b of Buffer.from(text)) events.push(...feed(r, Buffer.from([b])));
    assert.equal(events.length, 1);
    assert.deepEqual(values(events[0]), ['atom:PUTSCRIPT', 'str:foo', 'lit:#comment\r\nInvalidSieveCommand\r\n']);
  });

  it('takes {n} like {n+}, without waiting for a continuation (as Dovecot does)', () => {
    const r = new CommandReader(LIMITS);
    const ev = feed(r, 'RENAMESCRIPT {3}\r\nold {3+}\r\nnew\r\nNOOP\r\n');
    assert.deepEqual(ev.map(values), [['atom:RENAMESCRIPT', 'lit:old', 'lit:new'], ['atom:NOOP']]);
  });

  it('reads a SASL response given as a bare literal or quoted string, and bare LF line ends', () => {
    const r = new CommandReader(LIMITS);
    assert.deepEqual(feed(r, '{4+}\r\nAGEA\r\n"*"\nlogout\n').map(values), [['lit:AGEA'], ['str:*'], ['atom:logout']]);
  });

  it('drops a literal over the limit as it arrives, then goes on', () => {
    const r = new CommandReader(LIMITS);
    assert.deepEqual(feed(r, 'PUTSCRIPT "big" {60+}\r\n'), []);
    assert.deepEqual(feed(r, 'x'.repeat(30)), []);
    assert.deepEqual(
      feed(r, `${'x'.repeat(30)}\r\nNOOP\r\n`).map((e) => e.kind),
      ['too-big', 'command'],
    );
  });

  it('gives up at once on a literal beyond the skip budget, and reads nothing after', () => {
    const r = new CommandReader(LIMITS);
    const ev = feed(r, 'PUTSCRIPT "big" {104857600+}\r\nxxxx');
    assert.deepEqual(ev, [{ kind: 'fatal', reason: 'Literal of 104857600 bytes is too large' }]);
    assert.deepEqual(feed(r, 'NOOP\r\n'), []);
    assert.equal(feed(new CommandReader(LIMITS), 'NOOP {99999999999999999999+}\r\n')[0]!.kind, 'fatal');
  });

  it('skips an overlong line to its end, even without a CRLF yet, within the skip budget', () => {
    const r = new CommandReader(LIMITS);
    assert.deepEqual(feed(r, 'NOOP "' + 'x'.repeat(500)), []);
    assert.deepEqual(feed(r, 'x"\r\nNOOP\r\n'), [
      { kind: 'invalid', reason: 'Line too long' },
      { kind: 'command', tokens: [{ type: 'atom', value: 'NOOP' }] },
    ]);
    const endless = new CommandReader(LIMITS);
    assert.deepEqual(feed(endless, 'y'.repeat(999)), []);
    assert.deepEqual(feed(endless, 'y'.repeat(10)), [{ kind: 'fatal', reason: 'Line too long' }]);
  });

  it('refuses a command whose lines and literals together are too long', () => {
    const r = new CommandReader(LIMITS);
    const ev = feed(
      r,
      `A {40+}\r\n${'a'.repeat(40)} {40+}\r\n${'b'.repeat(40)} {40+}\r\n${'c'.repeat(40)} {40+}\r\n${'d'.repeat(40)} {40+}\r\n${'e'.repeat(40)} {40+}\r\n${'f'.repeat(40)} {40+}\r\n${'g'.repeat(40)}\r\nNOOP\r\n`,
    );
    assert.deepEqual(
      ev.map((e) => e.kind),
      ['too-big', 'command'],
    );
  });

  it('reports syntax errors per command and keeps the stream in step across their literals', () => {
    const r = new CommandReader(LIMITS);
    const ev = feed(r, 'PUTSCRIPT "unterminated {5+}\r\nhello\r\nNOOP {abc+}\r\nNOOP\r\n');
    assert.deepEqual(ev, [
      { kind: 'invalid', reason: 'Unterminated quoted string' },
      { kind: 'invalid', reason: 'Invalid literal' },
      { kind: 'command', tokens: [{ type: 'atom', value: 'NOOP' }] },
    ]);
  });
});

describe('ManageSieve tokens', () => {
  it('reads atoms, quoted strings with \\" and \\\\ escapes, and UTF-8', () => {
    assert.deepEqual(tokens('HAVESPACE "my \\"script\\" \\\\ é" 1024'), [
      { type: 'atom', value: 'HAVESPACE' },
      { type: 'string', value: 'my "script" \\ é', isLiteral: false },
      { type: 'atom', value: '1024' },
    ]);
    assert.deepEqual(tokens('NOOP ""'), [
      { type: 'atom', value: 'NOOP' },
      { type: 'string', value: '', isLiteral: false },
    ]);
  });

  it('refuses what the grammar does not allow', () => {
    const bad: Array<[string, string]> = [
      ['NOOP "a\\b"', 'Invalid escape in quoted string'],
      ['NOOP "a"b', 'Expected a space between arguments'],
      ['NOOP ("x")', 'Invalid character'],
      ['NOOP \u0000', 'Invalid character'],
      ['NOOP "\u00ff', 'Unterminated quoted string'],
      [`NOOP ${'a '.repeat(20)}`, 'Too many arguments'],
    ];
    for (const [line, message] of bad)
      assert.throws(() => tokens(line), { name: 'ManageSieveSyntaxError', message }, line);
    assert.throws(
      () => tokenize([Buffer.concat([Buffer.from('NOOP "'), Buffer.from([0xc3, 0x28]), Buffer.from('"')])], []),
      { message: 'Quoted string is not valid UTF-8' },
    );
    assert.throws(() => tokenize([Buffer.from('PUTSCRIPT "x" '), Buffer.alloc(0)], [Buffer.from([0xff])]), {
      message: 'Literal is not valid UTF-8',
    });
    assert.throws(
      () => tokens('AUTHENTICATE "PLAIN"\u0001', 'x'),
      { message: 'Expected a space between arguments' },
      'a literal must follow a space',
    );
  });

  it('writes strings quoted, or as a literal when they hold CR, LF or NUL or exceed 1024 octets', () => {
    assert.equal(encodeString('a "b" \\ c'), '"a \\"b\\" \\\\ c"');
    assert.equal(encodeString('line 1\r\nline 2'), '{14}\r\nline 1\r\nline 2');
    assert.equal(encodeString('é'.repeat(600)), `{1200}\r\n${'é'.repeat(600)}`);
  });
});
