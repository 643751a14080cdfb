import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionPair, type SessionPair } from '../../../test/helpers/session-pair.js';
import { MailError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import type { Auth } from '../../services/auth/index.js';
import { SMTP_REPLY, smtpError, SmtpReplyError } from './replies.js';
import { smtpProtocol, type SmtpDeps } from './session.js';

describe('SMTP reply table', () => {
  it('has a well-formed reply for every error code (RFC 5321 §4.2, RFC 3463 §2)', () => {
    for (const [code, r] of Object.entries(SMTP_REPLY)) {
      assert.match(String(r.code), /^[45][0-5]\d$/, code);
      // The enhanced code's class is the reply's first digit: 4.x.x with 4yz, 5.x.x with 5yz.
      assert.match(r.enhanced, new RegExp(`^${String(r.code)[0]}\\.\\d{1,3}\\.\\d{1,3}$`), code);
      assert.match(r.text, /^[\x20-\x7e]+$/, code);
    }
  });

  it('builds a reply from the table, with a detail made printable US-ASCII', () => {
    assert.equal(smtpError('OVER_QUOTA').message, '5.2.2 Mailbox full');
    const e = new SmtpReplyError(SMTP_REPLY.INVALID_ADDRESS, 'bö\r\nRSET');
    assert.equal(e.message, '5.1.3 Bad address syntax: b???RSET');
    assert.equal(e.responseCode, 553);
  });
});

const SECRET = 'redis://:hunter2@cache.internal:6379';

describe('SMTP errors on the wire', () => {
  let c: SessionPair;
  before(async () => {
    const auth = {
      async authenticate(username: string) {
        if (username === 'crash') throw new Error(`connect ${SECRET} failed`);
        if (username === 'config') throw new MailError('CONFIG', `cannot read ${SECRET}`);
        throw new MailError('AUTH_FAILED', `bad password for ${username} from ${SECRET}`);
      },
    } as unknown as Auth;
    const deps = {
      hostname: 'mail.example.com',
      auth,
      tls: { contextFor: () => undefined, sniCallback: (_name: string, cb: (err: Error | null) => void) => cb(null) },
      limits: {
        maxMessageBytes: 1 << 20,
        maxRecipients: 100,
        idleTimeoutMs: 60_000,
        allowPlaintextAuth: true,
        authOnMx: false,
        maxRefusedRecipients: 10,
        refusalDelayMs: 0,
      },
    } as unknown as SmtpDeps;
    const factory = smtpProtocol('submission', { isImplicitTls: false }, { ...deps, log: silentLogger });
    c = await sessionPair((conn) => factory(conn));
    await c.waitFor(/^220 /m);
    c.send('EHLO client.example');
    await c.waitFor(/^250 /m);
  });
  after(() => c.close());

  const plain = (user: string) => Buffer.from(`\0${user}\0pw`).toString('base64');

  it('answers every failure with the reply of its table row, never the error message', async () => {
    let from = c.text.length;
    c.send(`AUTH PLAIN ${plain('crash')}`);
    await c.waitFor(/^451 4\.3\.0 Temporary failure, try again later\r\n/m, from);
    from = c.text.length;
    c.send(`AUTH PLAIN ${plain('config')}`);
    await c.waitFor(/^451 4\.3\.5 Server configuration problem\r\n/m, from);
    from = c.text.length;
    c.send(`AUTH PLAIN ${plain('ann')}`);
    await c.waitFor(/^535 5\.7\.8 Authentication credentials invalid\r\n/m, from);
    assert.ok(!c.text.includes('hunter2'), c.text);
    assert.ok(!c.text.includes('cache.internal'), c.text);
    assert.ok(c.logs.some((l) => l.level === 'error' && JSON.stringify(l).includes(SECRET)));
  });
});
