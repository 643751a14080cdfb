/**
 * Content filtering at the end of DATA against Debian's clamd, started by the test with a signature
 * database it makes itself (the EICAR string as .hdb and .ndb: no online update is possible), and swaks as
 * the client: viruses refused in the SMTP dialogue (plain, base64 attachment, inside a zip), GTUBE
 * refused from strangers but not scored for logged-in users, and a scanner that is down or hangs
 * answered with the configured failure mode.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GTUBE } from '../src/services/filters/index.js';
import { freePort } from './helpers/cli.js';
import { EICAR, startClamd, type Daemon } from './helpers/engines.js';
import { peer } from './helpers/peers.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { servedWhile } from './helpers/smtp-client.js';
import { messageFile, swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const PW = 'ann password 1';
const skip = peer('clamd', 'clamav-daemon') || peer('swaks', 'swaks');

/** swaks to the listener (logged in as ann with `auth`); the last server reply line. */
function send(port: number, data: string[], auth = false): Promise<string> {
  const args = ['--from', auth ? 'ann@example.com' : 'x@sender.example', '--to', 'ann@example.com', ...data];
  if (auth) args.push('--tls', '--auth', 'PLAIN', '--auth-user', 'ann@example.com', '--auth-password', PW);
  return swaksReply(port, args);
}
const message = messageFile;

async function server(extra: string): Promise<TestServer> {
  const t = await startTestServer({
    extraConfig: `[authentication]\nreject_dmarc_failures = false\n${extra}`,
    listeners: ['smtp', 'submission'],
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', PW);
  return t;
}

describe('content filtering with clamd', { skip }, () => {
  let dir: string;
  let clamd: { port: number; stop(): void };
  let t: TestServer;
  before(async () => {
    dir = tempDir();
    clamd = await startClamd(dir);
    t = await server(`[filter]\nclamd = "127.0.0.1:${clamd.port}"\n`);
  });
  after(async () => {
    await t?.stop();
    clamd?.stop();
  });

  it('refuses EICAR in the body, in a base64 attachment and inside a zip with 550 5.7.1; takes clean mail marked clean', async () => {
    assert.match(
      await send(t.port('smtp'), message(dir, 'plain', EICAR)),
      /^550 5\.7\.1 .*virus found: Postern\.Test\.EICAR/,
    );
    const attachment = path.join(dir, 'eicar.com');
    writeFileSync(attachment, EICAR);
    assert.match(await send(t.port('smtp'), ['--attach', `@${attachment}`]), /^550 5\.7\.1 .*virus found/);
    const zip = path.join(dir, 'eicar.zip');
    const zipped = spawnSync('python3', [
      '-c',
      `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED); z.writestr('eicar.com', sys.argv[2]); z.close()`,
      zip,
      EICAR,
    ]);
    assert.equal(zipped.status, 0, zipped.stderr.toString());
    assert.match(
      await send(t.port('smtp'), ['--attach-type', 'application/zip', '--attach', `@${zip}`]),
      /^550 5\.7\.1 .*virus found/,
    );
    assert.match(await send(t.port('smtp'), message(dir, 'clean', 'hello')), /^250 /);
    const inbox = await mailbox(t.server, 'ann@example.com');
    assert.equal(inbox.length, 1, 'only the clean message was stored');
    assert.match(inbox[0]!.text, /X-Virus-Status: Clean on mail\.example\.com\r\n/);
    assert.match(inbox[0]!.text, /X-Spam-Status: No, score=0 required=5\r\n/);
  });

  it('refuses GTUBE from a stranger, takes it from a logged-in user unscored, and still scans that user for viruses', async () => {
    assert.match(await send(t.port('smtp'), message(dir, 'gtube', GTUBE)), /^550 5\.7\.1 .*spam score 10\d\d/);
    assert.match(await send(t.port('submission'), ['--body', GTUBE], true), /^250 /);
    assert.match(await send(t.port('submission'), ['--body', EICAR], true), /^550 5\.7\.1 .*virus found/);
  });
});

describe('content filtering when the scanner fails', { skip }, () => {
  it('answers 451 4.7.1 when clamd is down or hangs, and marks the message unchecked in accept mode', async () => {
    const dir = tempDir();
    const down = await freePort();
    const hang = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((r) => hang.once('listening', r));
    const hangPort = (hang.address() as net.AddressInfo).port;
    const tempfail = await server(`[filter]\nclamd = "127.0.0.1:${down}"\n`);
    const hung = await server(`[filter]\nclamd = "127.0.0.1:${hangPort}"\nclamd_timeout = "2s"\n`);
    const accept = await server(`[filter]\nclamd = "127.0.0.1:${down}"\non_engine_failure = "accept"\n`);
    try {
      assert.match(await send(tempfail.port('smtp'), message(dir, 'down', 'hi')), /^451 4\.7\.1 /);
      // While one session waits on the hung scanner, another client is answered at once.
      const waiting = send(hung.port('smtp'), message(dir, 'hung', 'hi'));
      assert.ok(await servedWhile(hung.port('smtp'), waiting), 'the second client was served while the scan waited');
      assert.match(await waiting, /^451 4\.7\.1 /);
      assert.match(await send(accept.port('smtp'), message(dir, 'accepted', 'hi')), /^250 /);
      const inbox = await mailbox(accept.server, 'ann@example.com');
      assert.match(inbox[0]!.text, /X-Virus-Status: Unchecked \(scanner unavailable\)/);
      assert.ok(
        tempfail.logs.some((l) => l.msg === 'virus scanner failed'),
        'the failure is logged',
      );
    } finally {
      await Promise.all([tempfail.stop(), hung.stop(), accept.stop()]);
      hang.close();
    }
  });

  it('files mail at junk_score to Junk', async () => {
    const dir = tempDir();
    const t = await server('[filter]\njunk_score = 1\n');
    try {
      const file = path.join(dir, 'nodate');
      writeFileSync(file, 'From: x@sender.example\r\nTo: ann@example.com\r\nSubject: no date\r\n\r\nhi\r\n');
      assert.match(await send(t.port('smtp'), ['--data', file]), /^250 /);
      const junk = await mailbox(t.server, 'ann@example.com', 'Junk');
      assert.equal(junk.length, 1);
      assert.match(
        junk[0]!.text,
        /X-Spam-Status: Yes, score=1\.5 required=1\r\nX-Spam-Score: 1\.5\r\nX-Spam-Symbols: MISSING_DATE=1, MISSING_MID=0\.5/,
      );
    } finally {
      await t.stop();
    }
  });
});
