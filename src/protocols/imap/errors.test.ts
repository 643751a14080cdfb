import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionPair, type SessionPair } from '../../../test/helpers/session-pair.js';
import { MailError } from '../../lib/errors.js';
import type { Auth } from '../../services/auth/index.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import type { ChangeFeed } from '../../store/index.js';
import { imapLimits } from '../shared/limits.js';
import { IMAP_ERROR } from './errors.js';
import { ImapSession } from './session.js';
import { UidSnapshots } from './uid-snapshots.js';

const SECRET = 'postgres://admin:hunter2@db.internal/mail';

/** Services that fail the way the test asks: the user name (LOGIN) or mailbox name (CREATE) says how. */
function failing(name: string): void {
  if (name === 'crash') throw new Error(`connect ${SECRET} failed`);
  if (name === 'temp') throw new MailError('TEMPORARY', `store busy at ${SECRET}`);
  if (name === 'config') throw new MailError('CONFIG', `cannot read ${SECRET}`);
  if (name === 'exists') throw new MailError('MAILBOX_EXISTS', 'mailbox exists already exists');
}

const auth = {
  async authenticate(username: string) {
    failing(username);
    return { accountId: 1, address: 'ann@example.com' };
  },
} as unknown as Auth;
const mailboxes = {
  async create(_accountId: number, name: string) {
    failing(name);
  },
} as unknown as Mailboxes;
const changes = { subscribe: () => () => {} } as unknown as ChangeFeed;

describe('IMAP errors', () => {
  let c: SessionPair;
  before(async () => {
    c = await sessionPair(
      (conn) =>
        new ImapSession(conn, {
          hostname: 'mail.example.com',
          auth,
          mailboxes,
          changes,
          uidSnapshots: new UidSnapshots(),
          limits: {
            ...imapLimits({ maxMessageBytes: 1 << 20, loginTimeoutMs: 60_000, idleTimeoutMs: 60_000 }),
            allowPlaintextAuth: true,
          },
          log: conn.log,
        }),
    );
    await c.waitFor(/^\* OK .*\r\n/);
  });
  after(() => c.close());

  it('answers an unexpected error with SERVERBUG, its message only in the log', async () => {
    c.send('a LOGIN crash pw');
    await c.waitFor(/a NO \[SERVERBUG\] Internal error, try again\r\n/);
    assert.ok(c.logs.some((l) => l.level === 'error' && JSON.stringify(l).includes(SECRET)));
  });

  it('answers internal MailErrors with the fixed text of their row', async () => {
    c.send('b LOGIN temp pw');
    await c.waitFor(/b NO \[UNAVAILABLE\] Temporary failure, try again later\r\n/);
    c.send('c LOGIN ann pw');
    await c.waitFor(/c OK /);
    c.send('d CREATE config');
    await c.waitFor(/d NO \[UNAVAILABLE\] Server configuration problem, try again later\r\n/);
    assert.equal(IMAP_ERROR.TEMPORARY.text, 'Temporary failure, try again later');
  });

  it('sends the message of a MailError written for the client, with its response code', async () => {
    c.send('e CREATE exists');
    await c.waitFor(/e NO \[ALREADYEXISTS\] mailbox exists already exists\r\n/);
  });

  it('never writes the internal messages to the client', () => {
    assert.ok(!c.text.includes('hunter2'), c.text);
    assert.ok(!c.text.includes('db.internal'), c.text);
    assert.ok(c.logs.filter((l) => JSON.stringify(l).includes(SECRET)).length >= 3);
  });
});
