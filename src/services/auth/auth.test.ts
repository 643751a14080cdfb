import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMailError } from '../../lib/errors.js';
import { sourceKey } from '../../lib/ip.js';
import { createLogger } from '../../lib/log.js';
import type { AccountRecord, Store } from '../../store/index.js';
import { Auth } from './index.js';
import { hashPassword } from './password.js';

const PW = 'the right password';

async function setup(maxFailures = 3) {
  const lines: Array<Record<string, unknown>> = [];
  const account = {
    id: 7,
    address: 'ann@example.com',
    passwordHash: await hashPassword(PW),
    isEnabled: true,
  } as AccountRecord;
  const store = {
    accounts: { get: async (a: string) => (a === account.address ? account : undefined) },
    appPasswords: { find: async () => undefined },
  } as unknown as Store;
  const log = createLogger({
    level: 'debug',
    sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  });
  const auth = new Auth({
    store,
    log,
    throttle: { failureDelayMs: 0, maxFailures, lockoutMs: 60_000, ipv6Prefix: 64 },
  });
  const attempt = (user: string, password: string, ip: string) =>
    auth.authenticate(user, password, { ip, protocol: 'test' }).then(
      () => 'ok',
      (err: unknown) => (isMailError(err) ? err.code : String(err)),
    );
  return { auth, attempt, lines };
}

describe('login throttling', () => {
  it('locks the guessing source out, never the account: its password still works from elsewhere', async () => {
    const { attempt } = await setup(3);
    for (let i = 0; i < 3; i++)
      assert.equal(await attempt('ann@example.com', `guess ${i}`, '198.51.100.7'), 'AUTH_FAILED');
    assert.equal(
      await attempt('ann@example.com', PW, '198.51.100.7'),
      'AUTH_LOCKED',
      "the attacker's address is refused",
    );
    assert.equal(await attempt('ann@example.com', PW, '203.0.113.9'), 'ok', 'the owner logs in from elsewhere');
    assert.equal(await attempt('ann@example.com', 'another guess', '192.0.2.1'), 'AUTH_FAILED');
    assert.equal(await attempt('ann@example.com', PW, '192.0.2.1'), 'ok');
  });

  it('counts an IPv6 /64 as one source', async () => {
    const { attempt } = await setup(3);
    for (let i = 1; i <= 3; i++)
      assert.equal(await attempt('ann@example.com', 'guess', `2001:db8:1:2::${i}`), 'AUTH_FAILED');
    assert.equal(
      await attempt('ann@example.com', PW, '2001:db8:1:2:ffff:ffff:ffff:ffff'),
      'AUTH_LOCKED',
      'another address of the same /64',
    );
    assert.equal(await attempt('ann@example.com', PW, '2001:db8:1:3::1'), 'ok', 'the next /64 is another source');
  });

  it('verifies no more parallel guesses than max_failures', async () => {
    const { attempt } = await setup(3);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt('ann@example.com', `guess ${i}`, '198.51.100.20')),
    );
    assert.equal(results.filter((r) => r === 'AUTH_FAILED').length, 3, results.join(' '));
    assert.equal(results.filter((r) => r === 'AUTH_LOCKED').length, 17);
  });

  it('lets waiting attempts go on when the store fails one in flight', async () => {
    const account = {
      id: 7,
      address: 'ann@example.com',
      passwordHash: await hashPassword(PW),
      isEnabled: true,
    } as AccountRecord;
    let calls = 0;
    const store = {
      accounts: {
        get: async (a: string) => {
          if (++calls === 1) throw new Error('database is locked');
          return a === account.address ? account : undefined;
        },
      },
      appPasswords: { find: async () => undefined },
    } as unknown as Store;
    const log = createLogger({ level: 'error', sink: { write: () => undefined } });
    const auth = new Auth({
      store,
      log,
      throttle: { failureDelayMs: 0, maxFailures: 1, lockoutMs: 60_000, ipv6Prefix: 64 },
    });
    const attempt = () =>
      auth.authenticate('ann@example.com', PW, { ip: '198.51.100.50', protocol: 'test' }).then(
        () => 'ok',
        (err: unknown) => (isMailError(err) ? err.code : (err as Error).message),
      );
    // With max_failures = 1 the second attempt waits for the first, which the store fails.
    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([
      Promise.all([attempt(), attempt()]),
      new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve(['stalled']), 10_000))),
    ]);
    clearTimeout(timer);
    assert.deepEqual(results, ['database is locked', 'ok']);
  });

  it('lets parallel correct logins from one address through (a NAT of many users)', async () => {
    const { attempt } = await setup(3);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => attempt('ann@example.com', PW, '198.51.100.30')),
    );
    assert.deepEqual(new Set(results), new Set(['ok']));
  });

  it('refuses names and passwords longer than any stored one unverified, and logs a name cut short', async () => {
    const { attempt, lines } = await setup(100);
    assert.equal(await attempt('x'.repeat(20 << 20), 'pw', '198.51.100.40'), 'AUTH_FAILED');
    assert.equal(await attempt('ann@example.com', 'p'.repeat(2000), '198.51.100.40'), 'AUTH_FAILED');
    const logged = lines.filter((l) => l.msg === 'login failed').map((l) => String(l.user));
    assert.ok(
      logged.every((u) => u.length <= 65),
      logged.map((u) => u.length).join(' '),
    );
    assert.ok(!JSON.stringify(lines).includes('pppppppp'), 'no password in the log');
  });
});

describe('sourceKey', () => {
  it('keeps IPv4 addresses and groups IPv6 by prefix', () => {
    assert.equal(sourceKey('198.51.100.7'), '198.51.100.7');
    assert.equal(sourceKey('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(sourceKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(sourceKey('2001:db8:1:2::9'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(sourceKey('2001:db8:1:2:3:4:5:6', 48), '2001:db8:1:0:0:0:0:0/48');
    assert.equal(sourceKey('2001:db8:1:2:3:4:5:6', 128), '2001:db8:1:2:3:4:5:6/128');
    assert.equal(sourceKey('::1'), '0:0:0:0:0:0:0:0/64');
    assert.equal(sourceKey('64:ff9b::192.0.2.33', 128), '64:ff9b:0:0:0:0:c000:221/128');
  });
});
