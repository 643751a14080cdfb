import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage } from '../../mail/mime/structure.js';
import { envelopeValue } from './fetch.js';
import { atom, encodeUntagged, toBuffer, type Value } from './respond.js';

const wire = (v: Value, utf8: boolean) =>
  toBuffer(encodeUntagged([atom('ENVELOPE'), v], utf8) as Array<string | Buffer>).toString('latin1');

describe('FETCH ENVELOPE (RFC 9051 §7.5.2)', () => {
  it('stores for a plain-ASCII envelope exactly the text FETCH would build, for every client', () => {
    const parsed = parseMessage(
      Buffer.from(
        'Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and "quotes" \\ too\r\nFrom: "Ann A." <ann@example.com>, bob@example.org\r\nTo: undisclosed-recipients:;\r\nCc: Team: a@example.com, b@example.com;\r\nIn-Reply-To: <1@example.com>\r\nMessage-ID: <2@example.com>\r\n\r\nbody\r\n',
      ),
    );
    assert.ok(parsed.envelopeWire);
    for (const utf8 of [false, true])
      assert.equal(wire(atom(parsed.envelopeWire), utf8), wire(envelopeValue(parsed.envelope), utf8));
    assert.equal(
      parsed.envelopeWire,
      '("Thu, 26 Nov 2026 10:00:00 +0000" "=?utf-8?q?Gr=C3=BC=C3=9Fe?= and \\"quotes\\" \\\\ too" ' +
        '(("Ann A." NIL "ann" "example.com")(NIL NIL "bob" "example.org")) (("Ann A." NIL "ann" "example.com")(NIL NIL "bob" "example.org")) ' +
        '(("Ann A." NIL "ann" "example.com")(NIL NIL "bob" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ' +
        '((NIL NIL "Team" NIL)(NIL NIL "a" "example.com")(NIL NIL "b" "example.com")(NIL NIL NIL NIL)) NIL "<1@example.com>" "<2@example.com>")',
      'addresses without spaces between them (env-from = "(" 1*address ")")',
    );
  });

  it('stores nothing when a header needs a literal (8-bit, overlong), and FETCH builds it then', () => {
    const eightBit = parseMessage(
      Buffer.concat([
        Buffer.from('Subject: M'),
        Buffer.from([0xfc]),
        Buffer.from('ller\r\nFrom: a@example.com\r\n\r\nx\r\n'),
      ]),
    );
    assert.equal(eightBit.envelopeWire, null);
    assert.match(wire(envelopeValue(eightBit.envelope), false), /\{6\}\r\nM\xfcller/);
    const long = parseMessage(Buffer.from(`Subject: ${'x'.repeat(1100)}\r\n\r\nx\r\n`));
    assert.equal(long.envelopeWire, null);
  });
});
