import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../lib/log.js';
import type { GreylistRepo, GreylistTriplet } from '../../store/index.js';
import { clientNetwork, Greylist, normaliseSender } from './greylist.js';

/** The greylist repository in memory, for the decision logic alone (the SQLite one has its contract case). */
function memoryRepo(): GreylistRepo {
  const triplets = new Map<string, GreylistTriplet>();
  const clients = new Map<string, number>();
  return {
    triplet: (k) => Promise.resolve(triplets.get(k)),
    putTriplet: (k, t) => Promise.resolve(void triplets.set(k, t)),
    clientPasses: (n) => Promise.resolve(clients.get(n) ?? 0),
    addClientPass: (n) => Promise.resolve(void clients.set(n, (clients.get(n) ?? 0) + 1)),
    expire: () => Promise.resolve(0),
  };
}

describe('greylisting', () => {
  it('defers a new triplet, passes a retry after the delay, and starts over after the retry window', async () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const g = new Greylist({
      store: { greylist: memoryRepo() },
      log: silentLogger,
      settings: { delayMs: 300_000, retryWindowMs: 3_600_000, autoAllowAfter: 2, ipv6Prefix: 64 },
      now: () => new Date(now),
    });
    const check = (ip: string, from: string, to = 'ann@example.com') => g.check(ip, from, to);
    assert.deepEqual(await check('192.0.2.10', 'a@example.org'), { pass: false, retryInSeconds: 300 });
    now += 60_000;
    assert.deepEqual(await check('192.0.2.11', 'a@example.org'), { pass: false, retryInSeconds: 240 });
    now += 240_000;
    assert.equal((await check('192.0.2.12', 'a@example.org')).pass, true, 'same /24, after the delay');
    assert.equal((await check('192.0.2.10', 'a@example.org')).pass, true, 'a passed triplet keeps passing');
    assert.equal((await check('192.0.2.10', 'b@example.org')).pass, false, 'another sender is a new triplet');
    now += 2 * 3_600_000;
    assert.equal((await check('192.0.2.10', 'b@example.org')).pass, false, 'a retry after the window starts over');
    now += 300_000;
    assert.equal((await check('192.0.2.10', 'b@example.org')).pass, true);
    assert.deepEqual(await check('192.0.2.99', 'new@example.net', 'bob@example.com'), {
      pass: true,
      why: 'client network passed before',
    });
    assert.equal((await check('198.51.100.1', 'new@example.net')).pass, false, 'another network is greylisted');
  });

  it('keys senders and networks as postgrey does', () => {
    assert.equal(normaliseSender('List-Bounces+ann=example.com@Lists.example'), 'list-bounces@lists.example');
    assert.equal(normaliseSender('bounce-12345-678@mail.example'), 'bounce-#-#@mail.example');
    assert.equal(normaliseSender(''), '');
    assert.equal(clientNetwork('192.0.2.77', 64), '192.0.2.0/24');
    assert.equal(clientNetwork('::ffff:192.0.2.77', 64), '192.0.2.0/24');
    assert.equal(clientNetwork('2001:db8:1:2:aaaa::1', 64), '2001:db8:1:2:0:0:0:0/64');
  });
});
