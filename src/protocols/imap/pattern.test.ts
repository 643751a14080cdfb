import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern } from './pattern.js';
import { mergeSet, parseSequenceSet, setMatcher } from './sequence.js';

describe('LIST patterns (RFC 9051 §6.3.9)', () => {
  const match = (pattern: string, name: string, ci = false) => compilePattern(pattern, '/', ci)(name);

  it('matches * across levels and % within one', () => {
    assert.ok(match('*', 'a/b/c'));
    assert.ok(match('%', 'a') && !match('%', 'a/b'));
    assert.ok(match('a/%', 'a/b') && !match('a/%', 'a/b/c') && !match('a/%', 'a'));
    assert.ok(match('a/*', 'a/b/c') && match('a*', 'a') && match('*c', 'a/b/c'));
    assert.ok(match('%/%/c', 'a/b/c') && !match('%/c', 'a/b/c'));
    assert.ok(match('Sent', 'Sent') && !match('Sent', 'sent') && !match('Sent', 'Sent Items'));
    assert.ok(match('inbox', 'INBOX', true) && match('INBOX/%', 'inbox/x', true));
    assert.ok(match('*%*', 'x/y') && match('%*', 'x/y') && !match('%%', 'x/y'));
    assert.ok(match('Entwürfe/*', 'Entwürfe/a') && match('*😀', 'a😀') && !match('%😀', 'a/😀'));
    const long = 'x'.repeat(40);
    assert.ok(match(`${'*x'.repeat(32)}*`, long) && !match(`${'*x'.repeat(41)}*`, long));
  });

  it('takes linear time on patterns that make a backtracking matcher exponential', () => {
    const started = process.cpuUsage();
    const name = 'a'.repeat(1000);
    for (let i = 0; i < 200; i++) assert.ok(!match(`${'*a'.repeat(100)}*b`, name));
    const cpu = process.cpuUsage(started);
    assert.ok(cpu.user + cpu.system < 5_000_000, 'a regex takes longer than the age of the universe here');
  });
});

describe('sequence sets', () => {
  it('merges overlapping and reversed ranges with * as the largest number', () => {
    assert.deepEqual(mergeSet(parseSequenceSet('5:3,1,2,9:*,20:15,4'), 30), [
      [1, 5],
      [9, 30],
    ]);
    assert.deepEqual(mergeSet(parseSequenceSet('*:1'), 0), [[0, 1]]);
    const inSet = setMatcher(parseSequenceSet('1:3,7,10:*'), 12);
    assert.deepEqual([1, 3, 4, 7, 8, 10, 12, 13].map(inSet), [true, true, false, true, false, true, true, false]);
  });

  it('tests a message against 10,000 ranges in logarithmic time', () => {
    const set = parseSequenceSet(Array.from({ length: 10_000 }, (_, i) => `${i * 3 + 1}:${i * 3 + 2}`).join(','));
    const inSet = setMatcher(set, 100_000);
    let hits = 0;
    for (let n = 1; n <= 100_000; n++) if (inSet(n)) hits++;
    assert.equal(hits, 20_000);
  });
});
