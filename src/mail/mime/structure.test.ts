import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PARTS, parseMessage } from './structure.js';
import { decodeCharset, searchText } from './text.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

describe('MIME structure', () => {
  it('parses a simple message: envelope fields raw, defaults from RFC 3501 §7.4.2', () => {
    const buf = crlf(`From: "Ann Lee" <ann@example.com>
To: bob@example.com, Team: cy@example.org, dee@example.org;
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <1@example.com>

Hello
world
`);
    const { envelope, structure } = parseMessage(buf);
    assert.equal(envelope.subject, '=?utf-8?q?Gr=C3=BC=C3=9Fe?=', 'ENVELOPE carries the raw subject');
    assert.deepEqual(envelope.from, [{ name: 'Ann Lee', mailbox: 'ann', host: 'example.com' }]);
    assert.deepEqual(envelope.sender, envelope.from);
    assert.deepEqual(envelope.replyTo, envelope.from);
    assert.deepEqual(
      envelope.to.map((a) => a.group ?? `${a.mailbox}@${a.host}`),
      ['bob@example.com', 'start', 'cy@example.org', 'dee@example.org', 'end'],
    );
    assert.equal(envelope.messageId, '<1@example.com>');
    assert.equal(structure.type, 'text');
    assert.equal(structure.params.charset, 'us-ascii');
    assert.equal(structure.lines, 2);
    assert.equal(buf.subarray(structure.bodyStart, structure.end).toString(), 'Hello\r\nworld\r\n');
  });

  it('splits nested multiparts with byte offsets and reads an attached message', () => {
    const buf = crlf(`Subject: nested
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--inner
Content-Type: text/html; charset=utf-8

<p>caf&eacute; <b>bold</b></p>
--inner--
--outer
Content-Type: message/rfc822

Subject: inner message
From: x@example.net

inner body
--outer
Content-Type: application/octet-stream; name="a.bin"
Content-Disposition: attachment; filename="a.bin"
Content-Transfer-Encoding: base64

AAEC
--outer--
epilogue
`);
    const parsed = parseMessage(buf);
    const s = parsed.structure;
    assert.equal(`${s.type}/${s.subtype}`, 'multipart/mixed');
    assert.deepEqual(
      s.children.map((c) => `${c.type}/${c.subtype}`),
      ['multipart/alternative', 'message/rfc822', 'application/octet-stream'],
    );
    const plain = s.children[0]!.children[0]!;
    assert.equal(
      buf.subarray(plain.bodyStart, plain.end).toString(),
      'caf=C3=A9',
      'the CRLF before a delimiter belongs to the delimiter',
    );
    assert.equal(plain.encoding, 'quoted-printable');
    const rfc822 = s.children[1]!;
    assert.equal(rfc822.envelope?.subject, 'inner message');
    assert.equal(rfc822.children[0]!.type, 'text');
    const att = s.children[2]!;
    assert.deepEqual(att.disposition, { type: 'attachment', params: { filename: 'a.bin' } });
    assert.equal(att.params.name, 'a.bin');
    const text = searchText(buf, parsed);
    assert.match(text.body, /café/);
    assert.match(text.body, /bold/);
    assert.doesNotMatch(text.body, /<b>/);
  });

  it('reads unlabelled 8-bit text by a guess of its charset (RFC 2045 §5.2 says US-ASCII)', () => {
    assert.equal(decodeCharset(Buffer.from('plain text'), 'us-ascii'), 'plain text');
    assert.equal(decodeCharset(Buffer.from('Grüße', 'utf8'), 'us-ascii'), 'Grüße');
    assert.equal(
      decodeCharset(Buffer.from('Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve', 'latin1'), 'us-ascii'),
      'Café crème brûlée, naïve',
    );
    const gb = Buffer.from([0xc3, 0xe2, 0xb7, 0xd1, 0xb7, 0xa2, 0xc6, 0xb1, 0x20, 0xb4, 0xfa, 0xbf, 0xaa]);
    assert.equal(decodeCharset(gb, 'us-ascii'), '免费发票 代开');
    assert.equal(decodeCharset(gb, 'no-such-charset'), gb.toString('latin1'));
  });

  it('stays bounded on hostile input', () => {
    let nested = 'Content-Type: multipart/mixed; boundary=b0\r\n\r\n';
    for (let i = 1; i < 200; i++) nested += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary=b${i}\r\n\r\n`;
    const deep = parseMessage(Buffer.from(nested));
    let depth = 0;
    for (let p = deep.structure; p.children[0]; p = p.children[0]) depth++;
    assert.ok(depth <= 32, `depth capped (${depth})`);
    const noHeaders = parseMessage(Buffer.from('just text, no header block'));
    assert.equal(noHeaders.structure.type, 'text');
    const binary = parseMessage(Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x0a, 0x01]));
    assert.equal(binary.envelope.subject, null);
    const many = 'Content-Type: multipart/mixed; boundary=x\r\n\r\n' + '--x\r\n\r\na\r\n'.repeat(5000) + '--x--\r\n';
    assert.ok(parseMessage(Buffer.from(many)).structure.children.length < 2000);
  });

  it('stops splitting a multipart at the part limit instead of after every delimiter', () => {
    const bomb = Buffer.concat([
      Buffer.from('Content-Type: multipart/mixed; boundary=a\r\n\r\n'),
      Buffer.from('--a\n'.repeat(2_000_000)),
    ]);
    const heap = process.memoryUsage().heapUsed;
    const started = process.cpuUsage();
    const parsed = parseMessage(bomb);
    const cpu = process.cpuUsage(started);
    assert.ok(parsed.structure.children.length <= MAX_PARTS);
    assert.ok(process.memoryUsage().heapUsed - heap < 32 << 20, 'not two million ranges');
    assert.ok(cpu.user + cpu.system < 1_000_000, `${cpu.user + cpu.system} µs`);
  });

  it('extracts the text of hostile HTML in linear time', () => {
    const html = `Content-Type: text/html\r\n\r\n${'<script'.repeat(500_000)}<p>after`;
    const started = process.cpuUsage();
    searchText(Buffer.from(html), parseMessage(Buffer.from(html)));
    const cpu = process.cpuUsage(started);
    assert.ok(cpu.user + cpu.system < 2_000_000, `${cpu.user + cpu.system} µs: a regex per "<script" is quadratic`);
  });
});
