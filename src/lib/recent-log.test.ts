import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentLog } from './recent-log.js';

describe('recent log', () => {
  it('keeps the newest lines, finds them by every word, newest first, and bounds long lines', () => {
    const log = new RecentLog(3, 60);
    for (let i = 1; i <= 5; i++) log.write(`${JSON.stringify({ msg: 'line', n: i, conn: i % 2 ? 'c1' : 'c2' })}\n`);
    assert.deepEqual(
      log.search('', 10).map((r) => r.n),
      [5, 4, 3],
    );
    assert.deepEqual(
      log.search('C1 line', 10).map((r) => r.n),
      [5, 3],
    );
    log.write(JSON.stringify({ msg: 'x'.repeat(100) }));
    assert.equal((log.search('xxx', 1)[0]!.msg as string).length, 60);
  });
});
