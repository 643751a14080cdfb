import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionPair, type SessionPair } from '../../../test/helpers/session-pair.js';
import { MailError } from '../../lib/errors.js';
import type { Auth } from '../../services/auth/index.js';
import type { SieveScripts } from '../../services/sieve/index.js';
import { manageSieveLimits } from '../shared/limits.js';
import { ManageSieveSession } from './session.js';

const SECRET = 'sqlite:/var/lib/postern/store.db (token 9f8e7d)';

/** Services that fail the way the test asks: the user (AUTHENTICATE) or script name says how. */
function failing(name: string): void {
  if (name === 'crash') throw new Error(`connect ${SECRET} failed`);
  if (name === 'temp') throw new MailError('TEMPORARY', `store busy at ${SECRET}`);
  if (name === 'config') throw new MailError('CONFIG', `cannot read ${SECRET}`);
  if (name === 'missing') throw new MailError('NOT_FOUND', 'no script named missing');
}

const auth = {
  async authenticate(username: string) {
    failing(username);
    return { accountId: 1, address: 'ann@example.com' };
  },
} as unknown as Auth;
const sieve = {
  extensions: () => ['fileinto'],
  limits: { maxRedirects: 1 },
  async get(_accountId: number, name: string) {
    failing(name);
    return { content: 'keep;' };
  },
} as unknown as SieveScripts;

const plain = (user: string) => Buffer.from(`\0${user}\0pw`).toString('base64');

describe('ManageSieve errors', () => {
  let c: SessionPair;
  before(async () => {
    c = await sessionPair(
      (conn) =>
        new ManageSieveSession(conn, {
          hostname: 'mail.example.com',
          auth,
          sieve,
          limits: {
            ...manageSieveLimits({ loginTimeoutMs: 60_000, idleTimeoutMs: 60_000, maxScriptBytes: 1024 }),
            allowPlaintextAuth: true,
          },
        }),
    );
    await c.waitFor(/^OK .*\r\n/m);
  });
  after(() => c.close());

  it('answers an unexpected error with TRYLATER, its message only in the log', async () => {
    const from = c.text.length;
    c.send(`AUTHENTICATE "PLAIN" "${plain('crash')}"`);
    await c.waitFor(/^NO \(TRYLATER\) "Internal error, try again"\r\n/m, from);
    assert.ok(c.logs.some((l) => l.level === 'error' && JSON.stringify(l).includes(SECRET)));
  });

  it('answers internal MailErrors (TEMPORARY, CONFIG) the same way', async () => {
    let from = c.text.length;
    c.send(`AUTHENTICATE "PLAIN" "${plain('temp')}"`);
    await c.waitFor(/^NO \(TRYLATER\) "Internal error, try again"\r\n/m, from);
    from = c.text.length;
    c.send(`AUTHENTICATE "PLAIN" "${plain('ann')}"`);
    await c.waitFor(/^OK "Logged in"\r\n/m, from);
    from = c.text.length;
    c.send('GETSCRIPT "config"');
    await c.waitFor(/^NO \(TRYLATER\) "Internal error, try again"\r\n/m, from);
  });

  it('sends the message of a MailError written for the client, with its response code', async () => {
    const from = c.text.length;
    c.send('GETSCRIPT "missing"');
    await c.waitFor(/^NO \(NONEXISTENT\) "no script named missing"\r\n/m, from);
  });

  it('never writes the internal messages to the client', () => {
    assert.ok(!c.text.includes('/var/lib/postern'), c.text);
    assert.ok(!c.text.includes('9f8e7d'), c.text);
    assert.ok(c.logs.filter((l) => JSON.stringify(l).includes(SECRET)).length >= 3);
  });
});
