import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { it } from 'node:test';
import { srsForward, srsReverse } from './srs.js';

const secret = Buffer.from('0123456789abcdef0123456789abcdef');
const now = Date.UTC(2026, 10, 26);

it('rewrites a sender for forwarding and reverses it for bounces, refusing forged and old addresses', () => {
  const srs = srsForward('ann@sender.example', 'forwarder.example', secret, now);
  assert.match(
    srs,
    /^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=sender\.example=ann@forwarder\.example$/,
    'a 40-bit base32 hash: 2^40 guesses to forge one',
  );
  const local = srs.slice(0, srs.lastIndexOf('@'));
  assert.equal(srsReverse(local, secret, now), 'ann@sender.example');
  assert.equal(
    srsReverse(local.toLowerCase(), secret, now),
    'ann@sender.example',
    'case-insensitive, as local parts get lower-cased',
  );
  assert.equal(srsReverse(local, secret, now + 20 * 86_400_000), 'ann@sender.example');
  assert.equal(srsReverse(local, secret, now + 30 * 86_400_000), undefined, 'expired after 21 days');
  assert.equal(srsReverse(local.replace('=sender.example=', '=evil.example='), secret, now), undefined, 'forged');
  assert.equal(srsReverse(local, Buffer.from('another secret'), now), undefined);
  assert.equal(srsReverse('ann', secret, now), undefined);
  assert.equal(
    srsReverse(local.replace(/^SRS0=[A-Z2-7]{8}/, 'SRS0=abcd'), secret, now),
    undefined,
    'the old 4-character hash is not taken',
  );
  const [, hash] = /^SRS0=([A-Z2-7]{8})=/.exec(local)!;
  const flipped = hash!.slice(0, 7) + (hash!.endsWith('A') ? 'B' : 'A');
  assert.equal(srsReverse(local.replace(hash!, flipped), secret, now), undefined, 'every character of the hash counts');
});

it('signs the domain and the local part apart: moving characters between them breaks the hash', () => {
  const srs = srsForward('bx@a.example.com', 'forwarder.example', secret, now);
  const local = srs.slice(0, srs.lastIndexOf('@'));
  assert.equal(srsReverse(local, secret, now), 'bx@a.example.com');
  const moved = local.replace('=a.example.com=bx', '=a.example.comb=x');
  assert.notEqual(moved, local);
  assert.equal(srsReverse(moved, secret, now), undefined, 'x@a.example.comb is not vouched for');
});

it('still reverses an address made before the hash took separators, until it would have expired anyway', () => {
  const made = Date.UTC(2026, 11, 1);
  const day = Math.floor(made / 86_400_000) % 1024;
  const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const ts = BASE32[day >> 5]! + BASE32[day & 31]!;
  const mac = createHmac('sha256', secret).update(`${ts}sender.example${'ann'}`.toLowerCase()).digest();
  let h = '';
  for (let i = 0; i < 8; i++) {
    const bit = i * 5;
    h += BASE32[(((mac[bit >> 3]! << 8) | mac[(bit >> 3) + 1]!) >> (11 - (bit & 7))) & 31];
  }
  const local = `SRS0=${h}=${ts}=sender.example=ann`;
  assert.equal(srsReverse(local, secret, Date.UTC(2026, 11, 10)), 'ann@sender.example');
  assert.equal(srsReverse(local, secret, Date.UTC(2026, 11, 30)), undefined, 'expired');
});
