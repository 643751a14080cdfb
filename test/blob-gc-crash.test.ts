/**
 * Removing the content of expunged mail never takes content a message still uses. A real
 * `postern serve`, collecting every 20 ms, takes IMAP APPENDs of three contents over and over (so
 * the same content is stored again while its last copy is expunged and collected) and their
 * expunges, with messages of their own in between that they keep, from four ImapFlow clients, and is
 * killed with SIGKILL in the middle. After a
 * restart every message has its content, every acknowledged APPEND that was not expunged is there,
 * and what no message uses is gone from disk.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { postern, startServe, stopChild } from './helpers/cli.js';
import { startDns } from './helpers/dns-server.js';
import { testConfigText } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const CLIENTS = 4;
const KILL_AFTER = 400; // acknowledged APPENDs before the SIGKILL
const MAX_APPENDS = 4000; // the loop stops by itself
const PW = 'gc crash pw';
const SHARED = ['a', 'b', 'c'].map((k) =>
  Buffer.from(`From: ann@example.com\r\nSubject: same ${k}\r\n\r\n${k.repeat(3000)}\r\n`),
);
const unique = (w: number, i: number) =>
  Buffer.from(`From: ann@example.com\r\nSubject: kept ${w}.${i}\r\n\r\n${'k'.repeat(3000)}\r\n`);

it('collecting unreferenced content races APPENDs of the same content and a SIGKILL without losing any', async () => {
  const dir = tempDir();
  const config = path.join(dir, 'postern.toml');
  const dns = await startDns();
  writeFileSync(
    config,
    testConfigText(dir, '[store]\ncollect_interval = "20ms"\ncollect_after = "0s"\n', ['imap'], dns.address).replace(
      'level = "debug"',
      'level = "info"',
    ),
  );
  assert.equal(postern(['--config', config, 'domain', 'add', 'example.com']).code, 0);
  assert.equal(
    postern(['--config', config, 'account', 'add', 'ann@example.com', '--password-stdin'], { input: `${PW}\n` }).code,
    0,
  );

  const first = await startServe(config, 'imap');
  let collections = 0;
  first.child.stdout!.on(
    'data',
    (d: Buffer) => (collections += d.toString().split('"removed unreferenced content"').length - 1),
  );
  const kept = new Set<number>();
  const expunged = new Set<number>();
  let appends = 0;
  let killed = false;
  const worker = async (w: number) => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: first.port,
      secure: false,
      auth: { user: 'ann@example.com', pass: PW },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.mailboxOpen('INBOX');
      for (let i = 0; appends < MAX_APPENDS && !killed; i++) {
        const appended = await client.append('INBOX', i % 2 === 0 ? unique(w, i) : SHARED[(w + i) % SHARED.length]!);
        const uid = appended && typeof appended === 'object' ? appended.uid : undefined;
        assert.ok(uid, 'APPENDUID');
        appends++;
        if (i % 2 === 0) {
          kept.add(uid);
        } else {
          assert.equal(await client.messageDelete(String(uid), { uid: true }), true, 'expunged');
          expunged.add(uid);
        }
        if (appends >= KILL_AFTER && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    } catch {
      // the server died under this command: it was not acknowledged
    } finally {
      client.close();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
  await new Promise((r) =>
    first.child.exitCode !== null || first.child.signalCode !== null ? r(null) : first.child.once('exit', r),
  );
  assert.equal(first.child.signalCode, 'SIGKILL', 'the server was killed mid-stream');
  assert.ok(collections > 0, 'the collector removed content while the clients ran');

  // Restart on the same data: the collector runs there too; then stop it cleanly and look.
  const second = await startServe(config, 'imap');
  await new Promise((r) => setTimeout(r, 300));
  await stopChild(second.child);

  const store = await openSqliteStore(path.join(dir, 'data'));
  try {
    const account = (await store.accounts.get('ann@example.com'))!;
    const inbox = (await store.mailboxes.get(account.id, 'INBOX'))!;
    const rows = await store.messages.list(inbox.id);
    const uids = new Set(rows.map((m) => m.uid));
    for (const m of rows) {
      const content = await store.blobs.get(m.blobHash); // throws NOT_FOUND if the collector took it
      assert.equal(createHash('sha256').update(content).digest('hex'), m.blobHash, `content of UID ${m.uid} intact`);
    }
    assert.deepEqual(
      [...kept].filter((u) => !uids.has(u)),
      [],
      'acknowledged APPENDs lost',
    );
    assert.deepEqual(
      [...expunged].filter((u) => uids.has(u)),
      [],
      'acknowledged expunges undone',
    );
    await store.collectGarbage({ sweepDirs: 256 }); // files a crash left without a row
    const files = readdirSync(path.join(dir, 'data', 'blobs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
      .map((e) => e.name);
    assert.deepEqual(
      files.sort(),
      [...new Set(rows.map((m) => m.blobHash))].sort(),
      'exactly the content messages use is on disk',
    );
    console.log(
      `# ${appends} APPENDs acknowledged before SIGKILL (${kept.size} kept, ${expunged.size} expunged), ${collections} collector runs removed content, ${rows.length} messages after restart`,
    );
  } finally {
    await store.close();
    await dns.close();
  }
});
