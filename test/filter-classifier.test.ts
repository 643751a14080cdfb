/**
 * The learning classifier end to end: a user sorts mail with a real IMAP client (ImapFlow: MOVE into
 * Junk, STORE +FLAGS $NotJunk / $Junk, as Thunderbird does), a near-identical message then sent over
 * SMTP by swaks is filed to Junk, $NotJunk on a message learnt as spam takes it back, and the model
 * survives a restart of the server (its state is in the store).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/lib/log.js';
import { startServer, type Server } from '../src/main.js';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'ann password 1';
const skip = peer('swaks', 'swaks');

/** A spam run: the same offer in several wordings, as campaigns send it. */
const SPAM = [
  'Cheap replica watches, rolex and omega, discount prices, order now and save big',
  'Replica watches at discount prices: rolex, omega and more, order now and save big today',
  'Order now and save big on cheap replica watches, rolex and omega at discount prices',
  'Discount prices on replica watches, cheap rolex and omega, save big when you order now',
  'Save big: cheap replica watches, rolex, omega, discount prices, order now while stocks last',
  'Make money fast working from home, guaranteed income, click here to claim your cash bonus',
];
const HAM = [
  'Hi Ann, the quarterly report draft is attached, could you review section three before Friday',
  'Meeting notes from the planning session: we agreed to move the release to next Tuesday',
  'Thanks for the patch, I ran the test suite and everything passes, merging it this afternoon',
  'Are we still on for lunch Thursday? The new place near the office has a good menu',
];

const text = (n: string, subject: string, body: string, from = 'x@sender.example') =>
  `From: ${from}\r\nTo: ann@example.com\r\nSubject: ${subject}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${n}@sender.example>\r\n\r\n${body}\r\n`;

async function send(t: { port(name: string): number; dir: string }, name: string, content: string): Promise<void> {
  const file = path.join(t.dir, `${name}.eml`);
  writeFileSync(file, content);
  const r = await run('swaks', [
    ...['--server', '127.0.0.1', '--port', String(t.port('smtp')), '--ehlo', 'client.example'],
    ...['--from', 'x@sender.example', '--to', 'ann@example.com', '--data', file],
  ]);
  assert.match(r.stdout, /<- {2}250 .*queued|<- {2}250 2\.0\.0/, r.stdout);
}

async function imap(port: number): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    auth: { user: 'ann@example.com', pass: PW },
    tls: { rejectUnauthorized: false },
    logger: false,
  });
  await client.connect();
  return client;
}

/** Waits (bounded) until the account's model has learnt this much: learning runs after the IMAP reply. */
async function learnt(server: Server, want: { spam: number; ham: number }): Promise<void> {
  const account = (await server.store.accounts.get('ann@example.com'))!;
  let stats = await server.store.classifier.stats(account.id);
  for (let i = 0; i < 500 && (stats.spam !== want.spam || stats.ham !== want.ham); i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = await server.store.classifier.stats(account.id);
  }
  assert.deepEqual({ spam: stats.spam, ham: stats.ham }, want);
}

/** Subjects in a mailbox, read over IMAP. */
async function subjects(client: ImapFlow, mailbox: string): Promise<string[]> {
  const lock = await client.getMailboxLock(mailbox);
  try {
    const out: string[] = [];
    for await (const m of client.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
    return out;
  } catch {
    return [];
  } finally {
    lock.release();
  }
}

describe('learning classifier trained over IMAP', { skip }, () => {
  let t: TestServer;
  let isStopped = false;
  before(async () => {
    t = await startTestServer({
      extraConfig: '[authentication]\nreject_dmarc_failures = false\n[filter.classifier]\nmin_trained = 3\n',
      listeners: ['smtp', 'imap'],
    });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', PW);
  });
  after(async () => {
    if (isStopped) await t?.dns.close();
    else await t?.stop();
  });

  it('learns from MOVE into Junk and $NotJunk, files a near-identical spam to Junk, takes back with $NotJunk, learns $Junk, and keeps the model over a restart', async () => {
    for (const [i, body] of SPAM.entries()) await send(t, `spam${i}`, text(`spam${i}`, `offer ${i}`, body));
    for (const [i, body] of HAM.entries())
      await send(t, `ham${i}`, text(`ham${i}`, `work ${i}`, body, 'bob@partner.example'));
    let client = await imap(t.port('imap'));
    try {
      assert.equal((await subjects(client, 'INBOX')).length, 10, 'nothing is scored before training');
      const lock = await client.getMailboxLock('INBOX');
      try {
        assert.ok(await client.messageMove('1:6', 'Junk'));
        assert.ok(await client.messageFlagsAdd('1:4', ['$NotJunk']));
      } finally {
        lock.release();
      }
      await learnt(t.server, { spam: 6, ham: 4 });

      await send(
        t,
        'new-spam',
        text(
          'new-spam',
          'offer 9',
          'Cheap replica watches, rolex and omega at discount prices, order now and save big this week',
        ),
      );
      assert.deepEqual(await subjects(client, 'Junk'), [
        'offer 0',
        'offer 1',
        'offer 2',
        'offer 3',
        'offer 4',
        'offer 5',
        'offer 9',
      ]);
      await send(
        t,
        'new-ham',
        text(
          'new-ham',
          'work 9',
          'Hi Ann, could you review the release notes before the meeting',
          'bob@partner.example',
        ),
      );
      assert.equal((await subjects(client, 'INBOX')).at(-1), 'work 9');

      // The user disagrees about a message learnt as spam (offer 5): it is taken back and learnt as ham.
      const junk = await client.getMailboxLock('Junk');
      try {
        assert.ok(await client.messageFlagsAdd('6', ['$NotJunk']));
      } finally {
        junk.release();
      }
      await learnt(t.server, { spam: 5, ham: 5 });
      // Thunderbird's "mark as junk" sets $Junk where the message is.
      const inbox = await client.getMailboxLock('INBOX');
      try {
        assert.ok(await client.messageFlagsAdd('*', ['$Junk']));
      } finally {
        inbox.release();
      }
      await learnt(t.server, { spam: 6, ham: 5 });
    } finally {
      await client.logout();
    }

    // A restart: the same data directory, the model read from the store.
    await t.server.stop(1000);
    isStopped = true;
    const config = parseConfig(readFileSync(t.configFile, 'utf8'), t.configFile);
    const restarted = await startServer(config, createLogger({ level: 'warn' }));
    const port = (name: string) => restarted.listeners.bound.find((l) => l.name === name)!.port;
    try {
      await learnt(restarted, { spam: 6, ham: 5 });
      await send(
        { port, dir: t.dir },
        'after-restart',
        text(
          'after-restart',
          'offer 10',
          'Replica watches, rolex and omega, cheap discount prices, save big and order now',
        ),
      );
      client = await imap(port('imap'));
      try {
        const junk = await subjects(client, 'Junk');
        assert.equal(junk.at(-1), 'offer 10');
      } finally {
        await client.logout();
      }
    } finally {
      await restarted.stop(1000);
    }
  });
});
