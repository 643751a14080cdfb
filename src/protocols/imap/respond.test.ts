import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atom, Concat, encodeUntagged, Literal, toBuffer, type Value } from './respond.js';

const wire = (values: Value[], utf8 = false) => toBuffer(encodeUntagged(values, utf8) as Array<string | Buffer>);

describe('IMAP response encoding (RFC 9051 §4)', () => {
  it('writes atoms, numbers, NIL, quoted strings and lists', () => {
    assert.equal(
      wire([3, atom('FETCH'), [atom('UID'), 30, atom('FLAGS'), [atom('\\Seen')], null]]).toString(),
      '* 3 FETCH (UID 30 FLAGS (\\Seen) NIL)\r\n',
    );
    assert.equal(wire(['say "hi" \\ there']).toString(), '* "say \\"hi\\" \\\\ there"\r\n');
    assert.equal(
      wire([
        new Concat(
          [
            ['TEXT', 'PLAIN'],
            ['TEXT', 'HTML'],
          ],
          ['ALTERNATIVE'],
        ),
      ]).toString(),
      '* (("TEXT" "PLAIN")("TEXT" "HTML") "ALTERNATIVE")\r\n',
    );
  });

  it('sends what cannot be quoted as a literal: CR, LF, NUL, 1,024 bytes or more, 8-bit without UTF8=ACCEPT', () => {
    assert.equal(wire(['a\r\nb']).toString(), '* {4}\r\na\r\nb\r\n');
    assert.equal(wire([Buffer.from('x\0y')]).toString('latin1'), '* {3}\r\nx\0y\r\n');
    const long = 'x'.repeat(1024);
    assert.equal(wire([long]).toString(), `* {1024}\r\n${long}\r\n`);
    assert.equal(wire(['x'.repeat(1023)]).toString(), `* "${'x'.repeat(1023)}"\r\n`);
    assert.deepEqual(wire(['Grüße']), Buffer.from('* {7}\r\nGrüße\r\n'), 'UTF-8 as a literal for an IMAP4rev1 client');
    assert.deepEqual(wire(['Grüße'], true), Buffer.from('* "Grüße"\r\n'), 'quoted UTF-8 once enabled');
    assert.deepEqual(
      wire([new Literal(Buffer.from([0xff, 0x00]))]),
      Buffer.concat([Buffer.from('* {2}\r\n'), Buffer.from([0xff, 0]), Buffer.from('\r\n')]),
    );
  });

  it('keeps header bytes as received: latin1 bytes that are not UTF-8 go as a literal even with UTF8=ACCEPT', () => {
    const raw = Buffer.from([0x4d, 0xfc, 0x6c]); // "Mül" in ISO-8859-1
    assert.deepEqual(wire([raw], true), Buffer.concat([Buffer.from('* {3}\r\n'), raw, Buffer.from('\r\n')]));
    assert.deepEqual(wire([Buffer.from('Grüße')], true), Buffer.from('* "Grüße"\r\n'));
    assert.deepEqual(wire([atom('LIST'), atom('Entwürfe')]), Buffer.from('* LIST Entwürfe\r\n'), 'atoms go as UTF-8');
  });
});
