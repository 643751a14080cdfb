import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base32Decode, base32Encode, hotp, verifyTotp } from './totp.js';

describe('TOTP', () => {
  it('gives RFC 4226 Appendix D values and RFC 6238 Appendix B values (SHA-1, six digits)', () => {
    const secret = Buffer.from('12345678901234567890');
    assert.deepEqual(
      [0, 1, 2, 9].map((c) => hotp(secret, c)),
      ['755224', '287082', '359152', '520489'],
    );
    // RFC 6238 Appendix B, T = 59 s: 94287082 (eight digits) → the last six.
    assert.equal(verifyTotp(base32Encode(secret), '287082', 59_000), true);
    assert.equal(verifyTotp(base32Encode(secret), '287083', 59_000), false);
    assert.equal(verifyTotp(base32Encode(secret), '28708', 59_000), false);
    assert.deepEqual(base32Decode(base32Encode(secret)), secret);
    assert.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI'); // RFC 4648 §10, unpadded
  });
});
