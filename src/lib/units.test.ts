import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatSize, parseDuration, parseSize } from './units.js';

it('parses human sizes and durations', () => {
  assert.equal(parseSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseSize('50MB'), 50 * 1024 ** 2);
  assert.equal(parseSize('512 kib'), 512 * 1024);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize('2 parsecs'), undefined);
  assert.equal(parseSize('-1G'), undefined);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('14d'), 14 * 86_400_000);
  assert.equal(parseDuration('10 years'), undefined);
  assert.equal(parseDuration(''), undefined);
  assert.equal(formatSize(2 * 1024 ** 3), '2GB');
  assert.equal(formatSize(1500), '1500B');
});
