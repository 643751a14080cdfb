import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeAddress, normalizeDomain, splitPlus } from './address.js';

describe('domain and address normalisation', () => {
  it('lower-cases domains, strips the root dot and converts IDN to punycode (RFC 5891)', () => {
    assert.deepEqual(normalizeDomain('Example.COM.'), { ok: true, domain: 'example.com' });
    assert.deepEqual(normalizeDomain('Bücher.example'), { ok: true, domain: 'xn--bcher-kva.example' });
    assert.deepEqual(normalizeDomain('xn--bcher-kva.example'), { ok: true, domain: 'xn--bcher-kva.example' });
  });

  it('refuses what is not a domain name', () => {
    for (const bad of [
      '',
      'a..b',
      '-a.example',
      'a-.example',
      'a b.example',
      'user@example.com',
      '1.2.3.4',
      `${'a'.repeat(64)}.example`,
      'exa_mple.com',
    ]) {
      assert.equal(normalizeDomain(bad).ok, false, bad);
    }
    assert.equal(normalizeDomain('localhost', { requireDot: true }).ok, false);
    assert.equal(normalizeDomain('localhost').ok, true);
  });

  it('normalises addresses and refuses malformed ones', () => {
    const ok = normalizeAddress(' Ann.Lee+News@Bücher.Example ');
    assert.ok(ok.ok);
    assert.equal(ok.text, 'ann.lee+news@xn--bcher-kva.example');
    assert.equal(normalizeAddress('jörg@example.com').ok, true, 'SMTPUTF8 local parts (RFC 6531)');
    for (const bad of [
      'ann',
      '@example.com',
      'ann@',
      'a..b@example.com',
      '.a@example.com',
      'a b@example.com',
      `${'a'.repeat(65)}@example.com`,
      'ann@exa mple.com',
      '"q"@example.com',
    ]) {
      assert.equal(normalizeAddress(bad).ok, false, bad);
    }
  });

  it('splits plus-addressing and keeps the tag', () => {
    assert.deepEqual(splitPlus('ann+lists'), { base: 'ann', tag: 'lists' });
    assert.deepEqual(splitPlus('ann'), { base: 'ann', tag: undefined });
    assert.deepEqual(splitPlus('+x'), { base: '+x', tag: undefined });
  });
});
