import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSequenceSet, inSet, formatSet } from './sequence.js';
import { decodeMutf7, encodeMutf7 } from './utf7.js';
import { astring, FrameReader, ImapSyntaxError, tokenize, type WireEvent } from './wire.js';

const LIMITS = { maxLineBytes: 1000, maxLiteralBytes: 100, maxCommandBytes: 500 };
const feed = (r: FrameReader, s: string | Buffer): WireEvent[] => {
  r.push(typeof s === 'string' ? Buffer.from(s) : s);
  const out: WireEvent[] = [];
  for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
  return out;
};

describe('IMAP framing', () => {
  it('assembles a command from pieces, byte by byte', () => {
    const r = new FrameReader(LIMITS);
    const events: WireEvent[] = [];
    for (const b of Buffer.from('a1 NOOP\r\n')) events.push(...feed(r, Buffer.from([b])));
    assert.deepEqual(events, [{ kind: 'frame', segments: ['a1 NOOP'] }]);
  });

  it('asks for a synchronising literal and takes a non-synchronising one (RFC 7888)', () => {
    const r = new FrameReader(LIMITS);
    assert.deepEqual(feed(r, 'a1 LOGIN {3}\r\n'), [{ kind: 'continue' }]);
    const ev = feed(r, 'ann {4+}\r\npass\r\n');
    assert.equal(ev.length, 1);
    const frame = ev[0] as Extract<WireEvent, { kind: 'frame' }>;
    assert.deepEqual(
      frame.segments.map((s) => s.toString()),
      ['a1 LOGIN ', 'ann', ' ', 'pass', ''],
    );
    const { tag, tokens } = tokenize(frame.segments);
    assert.equal(tag, 'a1');
    assert.deepEqual(
      tokens.map((t) => (t.type === 'string' ? t.value.toString() : t.type === 'atom' ? t.value : t.type)),
      ['LOGIN', 'ann', 'pass'],
    );
  });

  it('refuses a literal over the limit before its data: NO for {n}, closing for {n+}', () => {
    const r = new FrameReader(LIMITS);
    assert.deepEqual(feed(r, 'a1 APPEND INBOX {101}\r\n'), [{ kind: 'reject-literal', tag: 'a1', size: 101 }]);
    assert.deepEqual(feed(r, 'a2 NOOP\r\n'), [{ kind: 'frame', segments: ['a2 NOOP'] }], 'the stream goes on');
    assert.equal(feed(new FrameReader(LIMITS), 'a1 APPEND INBOX {101+}\r\n')[0]!.kind, 'fatal');
    assert.equal(
      feed(new FrameReader(LIMITS), 'a1 APPEND INBOX {99999999999999999999}\r\n')[0]!.kind,
      'reject-literal',
    );
  });

  it('skips an overlong line and answers for its tag', () => {
    const r = new FrameReader(LIMITS);
    assert.deepEqual(feed(r, `a7 ${'x'.repeat(2000)}`), []);
    assert.deepEqual(feed(r, `${'y'.repeat(5000)}\r\na8 NOOP\r\n`), [
      { kind: 'too-long', tag: 'a7' },
      { kind: 'frame', segments: ['a8 NOOP'] },
    ]);
  });

  it('reads a literal pushed in many chunks in linear time and keeps unparsed input for later', () => {
    const r = new FrameReader({ maxLineBytes: 1000, maxLiteralBytes: 8 << 20, maxCommandBytes: 9 << 20 });
    assert.deepEqual(feed(r, 'a1 APPEND INBOX {8388608+}\r\n'), []);
    const chunk = Buffer.alloc(1024, 0x61);
    const started = process.cpuUsage();
    for (let i = 0; i < 8192; i++) r.push(chunk);
    r.push(Buffer.from('\r\na2 NOOP\r\na3 NOOP\r\n'));
    const frame = r.next() as Extract<WireEvent, { kind: 'frame' }>;
    const cpu = process.cpuUsage(started);
    assert.equal((frame.segments[1] as Buffer).length, 8 << 20);
    assert.ok(cpu.user + cpu.system < 2_000_000, 'a quadratic reader copies gigabytes here');
    assert.equal(r.bufferedBytes, 'a2 NOOP\r\na3 NOOP\r\n'.length, 'pipelined commands stay unparsed until asked for');
    assert.deepEqual(r.next(), { kind: 'frame', segments: ['a2 NOOP'] });
    assert.equal(r.discard(), 'a3 NOOP\r\n'.length);
    assert.equal(r.next(), undefined);
  });

  it('closes on a non-synchronising literal over the limit and reads nothing after it', () => {
    const r = new FrameReader({ maxLineBytes: 8192, maxLiteralBytes: 8192, maxCommandBytes: 16384 });
    assert.deepEqual(feed(r, 'a LOGIN {52428800+}\r\nxxxx'), [
      { kind: 'fatal', reason: 'literal of 52428800 bytes is over the limit' },
    ]);
    assert.deepEqual(feed(r, 'b NOOP\r\n'), []);
  });
});

describe('IMAP tokens', () => {
  const toks = (line: string) => tokenize([line]).tokens;

  it('reads atoms, quoted strings, NIL, nested lists and section atoms (RFC 9051 §9)', () => {
    const t = toks('a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From "Subject")]<0.100> NIL "q\\"uote\\\\")');
    assert.equal(t[1]!.type, 'atom');
    const list = t[2] as Extract<(typeof t)[number], { type: 'list' }>;
    assert.deepEqual(
      list.items.map((i) => (i.type === 'atom' ? i.value : i.type === 'string' ? i.value.toString() : i.type)),
      ['FLAGS', 'BODY.PEEK[HEADER.FIELDS (From "Subject")]<0.100>', 'nil', 'q"uote\\'],
    );
  });

  it('takes "[" without a "]" as an atom character (mailbox names), and "~" before a literal as literal8', () => {
    assert.deepEqual(toks('a SELECT a[b}c'), [
      { type: 'atom', value: 'SELECT' },
      { type: 'atom', value: 'a[b}c' },
    ]);
    const [, mailbox, literal] = tokenize(['a APPEND INBOX ~', Buffer.from([0, 1]), '']).tokens;
    assert.deepEqual(mailbox, { type: 'atom', value: 'INBOX' });
    assert.deepEqual(literal, { type: 'string', value: Buffer.from([0, 1]), isLiteral: true, isBinary: true });
    assert.equal(astring(toks('a SEARCH SUBJECT NIL')[2]), 'NIL', 'NIL is an astring');
  });

  it('answers malformed input with a syntax error', () => {
    for (const bad of [
      'a NOOP (',
      'a NOOP )',
      'a LOGIN "x',
      'a LOGIN "a\\b"',
      ' NOOP',
      '(a NOOP',
      `a ${'('.repeat(40)}${')'.repeat(40)}`,
      'a X\x01Y',
    ]) {
      assert.throws(() => toks(bad), ImapSyntaxError, bad);
    }
  });
});

describe('sequence sets and mailbox names', () => {
  it('parses sets with * and reversed ranges', () => {
    const set = parseSequenceSet('1:3,7,9:*,20:15');
    assert.ok(
      inSet(set, 2, 30) && inSet(set, 30, 30) && inSet(set, 16, 30) && !inSet(set, 5, 30) && !inSet(set, 8, 30),
    );
    for (const bad of ['0', '1:0', '', '1,,2', 'a', '1:2:3', '4294967296'])
      assert.throws(() => parseSequenceSet(bad), ImapSyntaxError, bad);
    assert.equal(formatSet([7, 1, 2, 3, 9]), '1:3,7,9');
  });

  it('encodes modified UTF-7 as RFC 3501 §5.1.3 shows', () => {
    assert.equal(encodeMutf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
    assert.equal(encodeMutf7('A&B'), 'A&-B');
    assert.equal(decodeMutf7('A&-B'), 'A&B');
    assert.equal(decodeMutf7(encodeMutf7('Entwürfe 😀')), 'Entwürfe 😀');
  });
});
