/**
 * Principle 1: a message that got 250 is never lost and never stored twice in one mailbox. A real
 * `postern serve` process takes 2,000 messages over four connections and is killed with SIGKILL in
 * the middle; after a restart every acknowledged message is in the mailbox exactly once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { postern, startServe, stopChild } from './helpers/cli.js';
import { testConfigText } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';
import { startDns } from './helpers/dns-server.js';
import { tempDir } from './helpers/tmp.js';

const TOTAL = 2000;
const CONNECTIONS = 4;
const KILL_AFTER = 600; // acknowledged messages before the SIGKILL

it('every acknowledged message survives a SIGKILL exactly once', async () => {
  const dir = tempDir();
  const config = path.join(dir, 'postern.toml');
  const dns = await startDns(); // nothing leaves 127.0.0.1, DNS included
  writeFileSync(config, testConfigText(dir, '', ['smtp'], dns.address).replace('level = "debug"', 'level = "info"'));
  assert.equal(postern(['--config', config, 'domain', 'add', 'example.com']).code, 0);
  assert.equal(
    postern(['--config', config, 'account', 'add', 'ann@example.com', '--password-stdin'], { input: 'crash test pw\n' })
      .code,
    0,
  );

  const first = await startServe(config, 'smtp');
  const acked = new Set<number>();
  let next = 0;
  let killed = false;
  const body = 'x'.repeat(2000);
  const worker = async () => {
    const c = await RawSmtp.connect(first.port);
    while (next < TOTAL && !killed) {
      const seq = next++;
      try {
        await c.send(
          'sender@remote.example',
          ['ann@example.com'],
          `Subject: crash ${seq}\r\nX-Seq: ${seq}\r\n\r\n${body}\r\n`,
        );
      } catch {
        return; // the server died under this transaction: it was not acknowledged
      }
      acked.add(seq);
      if (acked.size >= KILL_AFTER && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await new Promise((r) =>
    first.child.exitCode !== null || first.child.signalCode !== null ? r(null) : first.child.once('exit', r),
  );
  assert.equal(first.child.signalCode, 'SIGKILL', 'the server was killed mid-stream');
  assert.ok(acked.size >= KILL_AFTER && acked.size < TOTAL, `killed in the middle (${acked.size} acknowledged)`);

  // Restart on the same data, then stop it cleanly, and count what the mailbox holds.
  const second = await startServe(config, 'smtp');
  const c = await RawSmtp.connect(second.port);
  await c.send('sender@remote.example', ['ann@example.com'], 'Subject: after restart\r\nX-Seq: after\r\n\r\nok\r\n');
  c.close();
  await stopChild(second.child);

  const store = await openSqliteStore(path.join(dir, 'data'));
  try {
    const account = (await store.accounts.get('ann@example.com'))!;
    const inbox = (await store.mailboxes.get(account.id, 'INBOX'))!;
    const counts = new Map<string, number>();
    for (const m of await store.messages.list(inbox.id)) {
      const text = (await store.blobs.get(m.blobHash)).toString();
      const seq = /X-Seq: (\S+)/.exec(text)![1]!;
      counts.set(seq, (counts.get(seq) ?? 0) + 1);
    }
    const lost = [...acked].filter((s) => !counts.has(String(s)));
    const doubled = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    assert.deepEqual(lost, [], 'acknowledged messages lost');
    assert.deepEqual(doubled, [], 'messages stored twice');
    assert.equal(counts.get('after'), 1, 'the restarted server accepts mail');
    console.log(
      `# ${acked.size} acknowledged before SIGKILL, ${counts.size - 1} stored (unacknowledged but stored: ${counts.size - 1 - acked.size})`,
    );
  } finally {
    await store.close();
    await dns.close();
  }
});
