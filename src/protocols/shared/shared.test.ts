import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DotStuffer } from './dot-stuff.js';
import { LineReader, type LineEvent } from './lines.js';
import { decodeSaslPlain, isSameIdentity, MAX_SASL_PLAIN_BASE64 } from './sasl.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('SASL PLAIN (RFC 4616)', () => {
  it('decodes authzid, authcid and password', () => {
    assert.deepEqual(decodeSaslPlain(b64('\0ann@example.com\0pässword')), {
      ok: true,
      value: { authzid: '', authcid: 'ann@example.com', password: 'pässword' },
    });
    const r = decodeSaslPlain(b64('ANN@example.com\0ann@example.com\0pw'));
    assert.ok(r.ok && isSameIdentity(r.value));
    const other = decodeSaslPlain(b64('boss@example.com\0ann@example.com\0pw'));
    assert.ok(other.ok && !isSameIdentity(other.value));
  });

  it('refuses everything else with a reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /authzid NUL authcid NUL/],
      ['!!!!', /base64/],
      ['AGFubkBleGFtcGxlLmNvbQ', /base64/],
      [`${b64('\0a\0b')} `, /base64/],
      [b64('\0ann'), /authzid NUL/],
      [b64('a\0b\0c\0d'), /authzid NUL/],
      [b64('\0\0pw'), /empty/],
      [b64('\0ann\0'), /empty/],
      [b64(`\0${'u'.repeat(256)}\0pw`), /too long/],
      [b64(`\0ann\0${'p'.repeat(1025)}`), /too long/],
      [b64(Buffer.from([0, 0x61, 0, 0xff, 0xfe])), /UTF-8/],
      ['A'.repeat(MAX_SASL_PLAIN_BASE64 + 4), /too long/],
    ];
    for (const [input, reason] of bad) {
      const r = decodeSaslPlain(input);
      assert.ok(!r.ok, input.slice(0, 40));
      assert.match(r.reason, reason, input.slice(0, 40));
    }
  });
});

describe('line reader', () => {
  const all = (r: LineReader) => {
    const out: LineEvent[] = [];
    for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
    return out;
  };

  it('joins lines across chunks, CRLF or LF', () => {
    const r = new LineReader(100);
    for (const piece of ['US', 'ER a', 'nn\r', '\nPASS x\nQU', 'IT\r\n']) r.push(Buffer.from(piece));
    assert.deepEqual(all(r), [
      { kind: 'line', text: 'USER ann' },
      { kind: 'line', text: 'PASS x' },
      { kind: 'line', text: 'QUIT' },
    ]);
  });

  it('reports an overlong line at once and skips it to its end without keeping it', () => {
    const r = new LineReader(10);
    r.push(Buffer.from('x'.repeat(50)));
    assert.deepEqual(all(r), [{ kind: 'too-long' }]);
    r.push(Buffer.from('y'.repeat(5000)));
    assert.deepEqual(all(r), []);
    r.push(Buffer.from('zz\r\nNOOP\r\n'));
    assert.deepEqual(all(r), [{ kind: 'line', text: 'NOOP' }]);
    r.push(Buffer.from(`${'a'.repeat(20)}\r\nQUIT\r\n`));
    assert.deepEqual(all(r), [{ kind: 'too-long' }, { kind: 'line', text: 'QUIT' }]);
  });

  it('keeps pipelined lines unparsed until asked, and drops them on discard', () => {
    const r = new LineReader(100);
    r.push(Buffer.from('STLS\r\nUSER a\r\nPASS b\r\n'));
    assert.deepEqual(r.next(), { kind: 'line', text: 'STLS' });
    assert.equal(r.bufferedBytes, 'USER a\r\nPASS b\r\n'.length);
    assert.equal(r.discard(), 'USER a\r\nPASS b\r\n'.length);
    assert.equal(r.next(), undefined);
  });
});

describe('dot-stuffing', () => {
  const stuff = (chunks: string[]) => {
    const s = new DotStuffer();
    return Buffer.concat([...chunks.map((c) => s.push(Buffer.from(c, 'latin1'))), s.end()]).toString('latin1');
  };

  it('doubles leading dots, makes bare LF CRLF and ends with a lone dot, across chunk ends', () => {
    assert.equal(stuff(['.a\r\nb\r\n.c']), '..a\r\nb\r\n..c\r\n.\r\n');
    assert.equal(stuff(['a\r', '\n.b\n', '.', 'c\r\n']), 'a\r\n..b\r\n..c\r\n.\r\n');
    assert.equal(stuff(['x\n']), 'x\r\n.\r\n');
    assert.equal(stuff(['x\r']), 'x\r\r\n.\r\n');
    assert.equal(stuff([]), '.\r\n');
    assert.equal(stuff(['line\r\n', '.\r\n']), 'line\r\n..\r\n.\r\n');
  });
});
