/**
 * The spam engines at the end of DATA, against Debian's own daemons started by the test on 127.0.0.1
 * and swaks as the client: SpamAssassin's spamd (network tests off, a site config the test writes)
 * and rspamd (a config the test writes, its DNS pointed at a closed port on 127.0.0.1, so it runs
 * offline). GTUBE is refused with 550 5.7.1 on the engine's word alone (the built-in GTUBE rule is
 * weighed 0 here), clean mail is delivered with the engine's symbols in its headers, and an engine
 * that is down or hangs gets the configured failure mode while other clients are served.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GTUBE } from '../src/services/filters/index.js';
import { freePort } from './helpers/cli.js';
import { startRspamd, startSpamd, type Daemon } from './helpers/engines.js';
import { peer } from './helpers/peers.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { servedWhile } from './helpers/smtp-client.js';
import { messageFile, swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const skipSpamd = peer('spamd', 'spamd') || peer('swaks', 'swaks');
const skipRspamd = peer('rspamd', 'rspamd') || peer('swaks', 'swaks');

/** swaks to the listener; the reply to the end of DATA. */
const send = (port: number, data: string[]) =>
  swaksReply(port, ['--from', 'x@sender.example', '--to', 'ann@example.com', ...data]);
const message = messageFile;

const HAM = 'Hello Ann,\r\n\r\nthe minutes of Tuesday are attached to the wiki page. See you next week.\r\n\r\nBob';

/** A server whose [filter] has `filter`; the built-in GTUBE rule weighs 0, so only the engine can refuse. */
async function server(filter: string): Promise<TestServer> {
  const t = await startTestServer({
    extraConfig: `[authentication]\nreject_dmarc_failures = false\n[filter]\n${filter}\n[filter.scores]\nGTUBE = 0\n`,
    listeners: ['smtp'],
  });
  await t.server.directory.addDomain('example.com');
  await t.server.directory.addAccount('ann@example.com', 'ann password 1');
  return t;
}

// The suites run side by side: spamd and rspamd start at the same time.
describe('spam engines', { concurrency: true }, () => {
  describe('spam scoring by SpamAssassin spamd', { skip: skipSpamd }, () => {
    let dir: string;
    let spamd: Daemon;
    before(async () => {
      dir = tempDir();
      spamd = await startSpamd(dir);
    });
    after(() => spamd?.stop());

    it("refuses GTUBE on spamd's score with 550 5.7.1 and delivers clean mail with spamd's verdict", async () => {
      const t = await server(`spamd = "127.0.0.1:${spamd.port}"`);
      try {
        assert.match(await send(t.port('smtp'), message(dir, 'gtube', GTUBE)), /^550 5\.7\.1 .*SPAMD=10\d\d/);
        assert.match(await send(t.port('smtp'), message(dir, 'ham', HAM)), /^250 /);
        const inbox = await mailbox(t.server, 'ann@example.com');
        assert.equal(inbox.length, 1, 'only the clean message was delivered');
        // Delivered under on_engine_failure = "tempfail", not marked unchecked: spamd answered, and
        // scored it low (a SPAMD of 0 is left out of the symbols, as any rule that weighs nothing).
        assert.match(inbox[0]!.text, /X-Spam-Status: No, score=-?\d+(\.\d+)? required=5\r\n/);
        assert.doesNotMatch(inbox[0]!.text, /X-Spam-Unchecked/);
      } finally {
        await t.stop();
      }
    });
  });

  describe('spam engine failures', { skip: skipSpamd }, () => {
    it('answers 451 4.7.1 when spamd is down, or accepts marked unchecked; a hung spamd holds up no other client', async () => {
      const dir = tempDir();
      const down = await freePort();
      const hang = net.createServer(() => {}).listen(0, '127.0.0.1');
      await new Promise((r) => hang.once('listening', r));
      const hangPort = (hang.address() as net.AddressInfo).port;
      const tempfail = await server(`spamd = "127.0.0.1:${down}"`);
      const accept = await server(`spamd = "127.0.0.1:${down}"\non_engine_failure = "accept"`);
      const hung = await server(`spamd = "127.0.0.1:${hangPort}"\nspamd_timeout = "2s"`);
      try {
        assert.match(
          await send(tempfail.port('smtp'), message(dir, 'down', HAM)),
          /^451 4\.7\.1 .*spamd not available/,
        );
        assert.match(await send(accept.port('smtp'), message(dir, 'accepted', HAM)), /^250 /);
        const inbox = await mailbox(accept.server, 'ann@example.com');
        assert.match(inbox[0]!.text, /X-Spam-Unchecked: spamd unavailable on mail\.example\.com\r\n/);
        const failed = tempfail.logs.find((l) => l.msg === 'spam engine failed');
        assert.match(JSON.stringify(failed?.err), /failure 1 of 1 checks since start/, 'logged with the running count');
        // While one session waits on the hung spamd, another client is answered.
        const waiting = send(hung.port('smtp'), message(dir, 'hung', HAM));
        assert.ok(await servedWhile(hung.port('smtp'), waiting), 'the second client was served while the check waited');
        assert.match(await waiting, /^451 4\.7\.1 /);
      } finally {
        await Promise.all([tempfail.stop(), accept.stop(), hung.stop()]);
        hang.close();
      }
    });
  });

  describe('spam scoring by rspamd', { skip: skipRspamd }, () => {
    let dir: string;
    let rspamd: Daemon;
    before(async () => {
      dir = tempDir();
      rspamd = await startRspamd(dir);
    });
    after(() => rspamd?.stop());

    it("refuses GTUBE on rspamd's forced reject with 550 5.7.1 and delivers clean mail with rspamd's symbols", async () => {
      const t = await server(`rspamd = "http://127.0.0.1:${rspamd.port}"`);
      try {
        assert.match(await send(t.port('smtp'), message(dir, 'gtube', GTUBE)), /^550 5\.7\.1 .*RSPAMD_REJECT=1000/);
        assert.match(await send(t.port('smtp'), message(dir, 'ham', HAM)), /^250 /);
        const inbox = await mailbox(t.server, 'ann@example.com');
        assert.equal(inbox.length, 1, 'only the clean message was delivered');
        assert.match(inbox[0]!.text, /X-Spam-Status: No, /);
        assert.match(inbox[0]!.text, /X-Spam-Symbols: .*MIME_GOOD=-0\.1/);
      } finally {
        await t.stop();
      }
    });
  });
});
