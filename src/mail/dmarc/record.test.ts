import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDkimKeyRecord } from '../dkim/record.js';
import { parseDmarc, reportAddresses } from './record.js';

describe('DMARC record syntax (RFC 7489 §6.3)', () => {
  it('accepts the records admins publish', () => {
    for (const r of [
      'v=DMARC1; p=none; rua=mailto:postmaster@example.com',
      'v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d',
      'v=DMARC1;p=quarantine',
    ]) {
      assert.deepEqual(parseDmarc(r).problems, [], r);
    }
  });

  it('names each wrong tag', () => {
    const cases: Array<[string, RegExp]> = [
      ['v=DMARC1; p=rejected', /p=rejected is not/],
      ['v=DMARC1; rua=mailto:a@example.com', /p= tag is required/],
      ['v=DMARC1; p=none; pct=150', /pct=150/],
      ['v=DMARC1; p=none; adkim=strict', /adkim=strict/],
      ['v=DMARC1; p=none; rua=postmaster@example.com', /not a mailto: URI/],
      ['v=DMARC1; p=none; p=reject', /appears twice/],
      ['p=none; v=DMARC1', /must start with "v=DMARC1;"/],
      ['v=DMARC1; p=none; sp=never', /sp=never/],
      ['v=DMARC1; p=none; fo=2', /fo=2/],
    ];
    for (const [record, message] of cases)
      assert.ok(
        parseDmarc(record).problems.some((p) => message.test(p)),
        `${record}: ${JSON.stringify(parseDmarc(record).problems)}`,
      );
  });

  it('lists report addresses', () => {
    assert.deepEqual(
      reportAddresses(
        parseDmarc('v=DMARC1; p=none; rua=mailto:A@Example.com,mailto:b@example.net!10m; ruf=mailto:c@example.org'),
      ),
      ['a@example.com', 'b@example.net', 'c@example.org'],
    );
  });
});

describe('DKIM key record syntax (RFC 6376 §3.6.1)', () => {
  it('reads a key record, white space in p= included', () => {
    const r = parseDkimKeyRecord('v=DKIM1; k=rsa; p=MIIB IjAN Bgkq');
    assert.deepEqual(r.problems, []);
    assert.equal(r.publicKey, 'MIIBIjANBgkq');
    assert.equal(r.keyType, 'rsa');
    assert.equal(parseDkimKeyRecord('p=abc').keyType, 'rsa', 'k= defaults to rsa');
  });

  it('names the breakages DNS panels cause', () => {
    assert.match(parseDkimKeyRecord('"v=DKIM1; k=rsa; p=MIIB"').problems.join(), /quote/);
    assert.match(parseDkimKeyRecord('v=DKIM1;; k=rsa; p=MIIB').problems.join(), /stray semicolon/);
    assert.match(parseDkimKeyRecord('v=DKIM1; k=rsa; p=MIIB;IjAN').problems.join(), /not tag=value/);
    assert.match(parseDkimKeyRecord('v=DKIM1; k=rsa').problems.join(), /p= tag/);
    assert.match(parseDkimKeyRecord('v=DKIM1; k=dsa; p=MIIB').problems.join(), /k=dsa/);
    assert.match(parseDkimKeyRecord('k=rsa; v=DKIM1; p=MIIB').problems.join(), /first tag/);
    assert.match(parseDkimKeyRecord('v=DKIM1; p=MII*B').problems.join(), /not base64/);
    assert.equal(parseDkimKeyRecord('v=DKIM1; p=').publicKey, '', 'an empty p= is a revoked key');
  });
});
