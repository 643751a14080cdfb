import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionPair, type SessionPair } from '../../../test/helpers/session-pair.js';
import { MailError } from '../../lib/errors.js';
import type { Auth } from '../../services/auth/index.js';
import type { Mailboxes } from '../../services/mailboxes/index.js';
import { pop3Limits } from '../shared/limits.js';
import { POP3_ERROR } from './errors.js';
import { MaildropLocks } from './maildrop-locks.js';
import { Pop3Session } from './session.js';

const SECRET = '/var/lib/postern/blobs/ab/abcdef0123 (db.internal:5432)';

/** Each user name fails a different way; "ann" logs in to a maildrop whose message file is gone. */
const ACCOUNTS: Record<string, number> = { ann: 1, nobox: 2 };
const auth = {
  async authenticate(username: string) {
    if (username === 'crash') throw new Error(`connect ${SECRET} failed`);
    if (username === 'temp') throw new MailError('TEMPORARY', `store busy at ${SECRET}`);
    return { accountId: ACCOUNTS[username]!, address: `${username}@example.com` };
  },
} as unknown as Auth;
const box = { id: 10, uidValidity: 1 };
const mailboxes = {
  async get(accountId: number) {
    if (accountId === 2) throw new MailError('MAILBOX_NOT_FOUND', `INBOX of account 2 missing under ${SECRET}`);
    return box;
  },
  async summaries() {
    return [{ uid: 1, size: 100, flags: [] }];
  },
  async messagesByUid() {
    throw new MailError('NOT_FOUND', `blob ${SECRET} is missing`);
  },
} as unknown as Mailboxes;

describe('POP3 errors', () => {
  let c: SessionPair;
  before(async () => {
    c = await sessionPair(
      (conn) =>
        new Pop3Session(conn, {
          hostname: 'mail.example.com',
          auth,
          mailboxes,
          limits: { ...pop3Limits({ loginTimeoutMs: 60_000, idleTimeoutMs: 60_000 }), allowPlaintextAuth: true },
          locks: new MaildropLocks(60_000),
          log: conn.log,
        }),
    );
    await c.waitFor(/^\+OK .*\r\n/);
  });
  after(() => c.close());

  it('answers an unexpected error with [SYS/TEMP], its message only in the log', async () => {
    const from = c.text.length;
    c.send('USER crash');
    c.send('PASS pw');
    await c.waitFor(/-ERR \[SYS\/TEMP\] Internal error, try again\r\n/, from);
    assert.ok(c.logs.some((l) => l.level === 'error' && JSON.stringify(l).includes(SECRET)));
  });

  it('answers a MailError with the fixed text of its row, never its message', async () => {
    let from = c.text.length;
    c.send('USER temp');
    c.send('PASS pw');
    await c.waitFor(/-ERR \[SYS\/TEMP\] Temporary failure, try again\r\n/, from);
    from = c.text.length;
    c.send('USER nobox');
    c.send('PASS pw');
    await c.waitFor(new RegExp(`-ERR ${escape(POP3_ERROR.MAILBOX_NOT_FOUND)}\r\n`), from);
    from = c.text.length;
    c.send('USER ann');
    c.send('PASS pw');
    await c.waitFor(/\+OK Logged in, 1 messages\r\n/, from);
    from = c.text.length;
    c.send('RETR 1');
    await c.waitFor(/-ERR No such message\r\n/, from);
  });

  it('never writes the internal messages to the client', () => {
    assert.ok(!c.text.includes('/var/lib/postern'), c.text);
    assert.ok(!c.text.includes('db.internal'), c.text);
    assert.ok(c.logs.filter((l) => JSON.stringify(l).includes(SECRET)).length >= 4);
  });
});

function escape(text: string): string {
  return text.replace(/[[\]/\\^$.*+?()|{}]/g, '\\$&');
}
