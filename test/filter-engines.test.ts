/**
 * The spam engines at the end of DATA, against Debian's own daemons started by the test on 127.0.0.1
 * and swaks as the client: SpamAssassin's spamd (network tests off, a site config the test writes)
 * and rspamd (a config the test writes, its DNS pointed at a closed port on 127.0.0.1, so it runs
 * offline). GTUBE is refused with 550 5.7.1 on the engine's word alone (the built-in GTUBE rule is
 * weighed 0 here), clean mail is delivered with the engine's symbols in its headers, and an engine
 * that is down or hangs gets the configured failure mode while other clients are served.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GTUBE } from '../src/services/filters/index.js';
import { peer } from './helpers/peers.js';
import { run } from './helpers/python.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { RawSmtp } from './helpers/smtp-client.js';
import { tempDir } from './helpers/tmp.js';

const skipSpamd = peer('spamd', 'spamd') || peer('swaks', 'swaks');
const skipRspamd = peer('rspamd', 'rspamd') || peer('swaks', 'swaks');

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Daemon {
  port: number;
  stop(): void;
}

/** Waits until `ready()` holds, or the daemon exits, or 60 s pass; then the daemon's log says why not. */
async function started(child: ChildProcess, port: number, ready: () => Promise<boolean>, log: string): Promise<Daemon> {
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const stop = () => {
    if (child.pid && !exited) process.kill(-child.pid, 'SIGKILL'); // the daemon and the workers it forked
  };
  for (const end = Date.now() + 60_000; Date.now() < end && !exited; await new Promise((r) => setTimeout(r, 200)))
    if (await ready()) return { port, stop };
  stop();
  let tail = '';
  try {
    tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    tail = '(no log)';
  }
  throw new Error(`the daemon did not start; the end of ${log}:\n${tail}`);
}

/** One request, the whole answer (or '' if the connection failed). */
function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    s.on('data', (d) => (answer += d.toString()));
    s.on('close', () => resolve(answer));
    s.on('error', () => resolve(''));
  });
}

/** spamd with the rules Debian ships, local tests only (-L), no user config (-x), no Bayes learning. */
async function startSpamd(dir: string): Promise<Daemon> {
  const site = path.join(dir, 'spamassassin');
  mkdirSync(site, { recursive: true });
  // The .pre files load the plugins (the Check plugin among them); Debian keeps them in the site config.
  for (const f of readdirSync('/etc/spamassassin').filter((n) => n.endsWith('.pre')))
    copyFileSync(path.join('/etc/spamassassin', f), path.join(site, f));
  writeFileSync(path.join(site, 'local.cf'), 'use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\n');
  chmodSync(dir, 0o755); // its children run as nobody
  const port = await freePort();
  const log = path.join(dir, 'spamd.log');
  const args = ['-L', '-x', '-u', 'nobody', '-H', dir, `--siteconfigpath=${site}`, `--listen=127.0.0.1:${port}`];
  args.push(`--pidfile=${dir}/spamd.pid`, '--syslog=stderr', '--max-children=2', '--min-children=1');
  const child = spawn('spamd', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const out: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    out.push(d.toString());
    writeFileSync(log, out.join(''));
  });
  return started(child, port, async () => /PONG/.test(await ask(port, 'PING SPAMC/1.5\r\n\r\n')), log);
}

/**
 * rspamd with Debian's rules, one normal worker on 127.0.0.1:port, its state in the temp directory.
 * Offline: DNS goes to a closed port on 127.0.0.1 and the modules that ask DNS or fetch maps are off;
 * a short TLD list and no hyperscan make it start in seconds instead of half a minute.
 */
async function startRspamd(dir: string): Promise<Daemon> {
  for (const d of ['local/local.d', 'run', 'db', 'log']) mkdirSync(path.join(dir, d), { recursive: true });
  for (const module of ['rbl', 'fuzzy_check', 'phishing', 'asn', 'multimap', 'url_redirector', 'replies'])
    writeFileSync(path.join(dir, 'local/local.d', `${module}.conf`), 'enabled = false;\n');
  writeFileSync(path.join(dir, 'tld.dat'), 'com\norg\nnet\nexample\n');
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'rspamd.conf'),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  filters = "chartable,regexp";
  cache_file = "$DBDIR/symbols.cache";
  dynamic_conf = "$DBDIR/rspamd_dynamic";
  history_file = "$DBDIR/rspamd.history";
  stats_file = "$DBDIR/stats.ucl";
  hs_cache_dir = "$DBDIR/";
  control_socket = "$DBDIR/rspamd.sock mode=0600";
  explicit_modules = ["settings"];
  url_tld = "${dir}/tld.dat";
  disable_hyperscan = true;
  dns { nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 0; }
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
worker "normal" {
  bind_socket = "127.0.0.1:${port}";
  count = 1;
  .include "$CONFDIR/worker-normal.inc"
}
`,
  );
  const vars = { CONFDIR: '/etc/rspamd', LOCAL_CONFDIR: `${dir}/local`, RUNDIR: `${dir}/run`, DBDIR: `${dir}/db` };
  const args = ['-f', '-u', 'root', '-g', 'root', '-i', '-c', path.join(dir, 'rspamd.conf'), `--var=LOGDIR=${dir}/log`];
  for (const [k, v] of Object.entries(vars)) args.push(`--var=${k}=${v}`);
  const child = spawn('rspamd', args, { detached: true, stdio: 'ignore' });
  const ready = async () => /pong/.test(await ask(port, 'GET /ping HTTP/1.0\r\n\r\n'));
  return started(child, port, ready, path.join(dir, 'log/rspamd.log'));
}

/** swaks to the listener; the reply to the end of DATA. */
async function send(port: number, data: string[]): Promise<string> {
  const args = ['--server', '127.0.0.1', '--port', String(port), '--ehlo', 'client.example'];
  args.push('--from', 'x@sender.example', '--to', 'ann@example.com', ...data);
  const r = await run('swaks', args);
  const replies = r.stdout.split('\n').filter((l) => /^ *(<-|<\*\*) +\d{3} /.test(l));
  const last = replies.filter((l) => !/ 221 /.test(l)).at(-1);
  assert.ok(last, `no reply from the server:\n${r.stdout}\n${r.stderr}`);
  return last.replace(/^ *(<-|<\*\*) +/, '');
}

const message = (dir: string, name: string, body: string) => {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `From: x@sender.example\r\nTo: ann@example.com\r\nSubject: ${name}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${name}@sender.example>\r\n\r\n${body}\r\n`,
  );
  return ['--data', file];
};

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
        let isAnswered = false;
        const waiting = send(hung.port('smtp'), message(dir, 'hung', HAM)).finally(() => (isAnswered = true));
        await new Promise((r) => setTimeout(r, 500));
        const other = await RawSmtp.connect(hung.port('smtp'));
        await other.command('MAIL FROM:<y@sender.example>', '250');
        await other.command('RCPT TO:<ann@example.com>', '250');
        await other.command('RSET', '250');
        other.close();
        assert.equal(isAnswered, false, 'the second client was served while the check still waited');
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
