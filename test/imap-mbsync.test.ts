/**
 * A real sync engine: mbsync (isync) syncs a 500-message mailbox both ways, with flag changes and
 * deletions on each side, and both sides end up agreeing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const COUNT = 500;
const skip = peer('mbsync', 'isync');
let t: TestServer;

before(async () => {
  if (skip) return;
  t = await startTestServer({ listeners: ['imaps'] });
  await t.server.directory.addDomain('example.com');
  const account = await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  const inbox = await t.server.mailboxes.get(account.id, 'INBOX');
  for (let i = 1; i <= COUNT; i++) {
    await t.server.mailboxes.append(
      account.id,
      inbox.name,
      Buffer.from(
        `From: x@remote.example\r\nSubject: sync ${i}\r\nMessage-ID: <sync${i}@remote.example>\r\n\r\nbody ${i}\r\n`,
      ),
      i % 10 === 0 ? ['\\Seen'] : [],
      undefined,
    );
  }
});
after(async () => t?.stop());

it('mbsync syncs 500 messages both ways with flags and deletions', { skip }, async () => {
  const dir = tempDir();
  const maildir = path.join(dir, 'mail');
  mkdirSync(maildir, { recursive: true });
  const rc = path.join(dir, 'mbsyncrc');
  writeFileSync(
    rc,
    `IMAPAccount postern
Host 127.0.0.1
Port ${t.port('imaps')}
User ann@example.com
Pass "ann password 1"
SSLType IMAPS
CertificateFile ${t.dir}/letsencrypt/live/mail.example.com/fullchain.pem

IMAPStore remote
Account postern

MaildirStore local
Path ${maildir}/
Inbox ${maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
Sync All
SyncState *
`,
  );
  const sync = async () => {
    const r = await run('mbsync', ['-c', rc, '-a'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `mbsync failed: ${r.stdout}\n${r.stderr}`);
  };
  await sync();
  const cur = () =>
    readdirSync(path.join(maildir, 'INBOX', 'cur')).concat(
      readdirSync(path.join(maildir, 'INBOX', 'new')).map((f) => `new/${f}`),
    );
  assert.equal(cur().length, COUNT, 'every message downloaded');
  assert.equal(cur().filter((f) => /:2,[A-Z]*S/.test(f)).length, COUNT / 10, '\\Seen arrived as the S flag');

  // Local changes: flag 5 messages, delete 3 (mark trashed + expunge).
  const files = readdirSync(path.join(maildir, 'INBOX', 'cur')).sort();
  for (const f of files.slice(0, 5))
    renameSync(
      path.join(maildir, 'INBOX', 'cur', f),
      path.join(
        maildir,
        'INBOX',
        'cur',
        f.replace(/:2,([A-Z]*)$/, (_, fl: string) => `:2,${[...new Set((fl + 'F').split(''))].sort().join('')}`),
      ),
    );
  for (const f of readdirSync(path.join(maildir, 'INBOX', 'cur'))
    .sort()
    .slice(5, 8))
    unlinkSync(path.join(maildir, 'INBOX', 'cur', f));
  // Remote changes: flag and delete on the server through another client.
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: t.port('imaps'),
    secure: true,
    auth: { user: 'ann@example.com', pass: 'ann password 1' },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await c.connect();
  await c.mailboxOpen('INBOX');
  await c.messageFlagsAdd('490:495', ['\\Answered']);
  await c.messageDelete('496:500');
  await c.logout();

  await sync();
  const after1 = cur();
  assert.equal(after1.length, COUNT - 3 - 5, 'deletions on both sides applied locally');
  assert.equal(after1.filter((f) => /:2,[A-Z]*R/.test(f)).length, 6, 'server \\Answered arrived as R');

  const check = new ImapFlow({
    host: '127.0.0.1',
    port: t.port('imaps'),
    secure: true,
    auth: { user: 'ann@example.com', pass: 'ann password 1' },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await check.connect();
  const box = await check.mailboxOpen('INBOX');
  assert.equal(box.exists, COUNT - 3 - 5, 'local deletions reached the server');
  const flagged = await check.search({ flagged: true });
  assert.equal((flagged || []).length, 5, 'local flags reached the server');
  await check.logout();

  await sync();
  assert.equal(cur().length, COUNT - 8, 'a further sync changes nothing');
});
