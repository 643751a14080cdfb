/**
 * The content-filter engines from Debian, started on 127.0.0.1 by tests and benchmarks with a
 * configuration they write into a temp directory: clamd with a signature database made here (no online
 * update is possible), spamd with network tests off, and rspamd offline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './cli.js';

/** The EICAR test file: every scanner reports it; the signatures below make clamd do so offline. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** A marker clamd reports as a virus found in any part (for tests that need one without EICAR). */
export const VIRUS_MARKER = 'POSTERN-TEST-VIRUS';

/**
 * clamd on 127.0.0.1:port with three signatures: EICAR's MD5 (.hdb), its bytes anywhere in a part and
 * the marker anywhere in a part (.ndb: a body with its line break, a decoded attachment, a zip member).
 */
export async function startClamd(dir: string): Promise<Daemon> {
  const db = path.join(dir, 'db');
  mkdirSync(db, { recursive: true });
  const md5 = createHash('md5').update(EICAR).digest('hex');
  writeFileSync(path.join(db, 'test.hdb'), `${md5}:${EICAR.length}:Postern.Test.EICAR\n`);
  writeFileSync(
    path.join(db, 'test.ndb'),
    `Postern.Test.EICAR.Body:0:*:${Buffer.from(EICAR).toString('hex')}\n` +
      `Postern.Test.Marker:0:*:${Buffer.from(VIRUS_MARKER).toString('hex')}\n`,
  );
  const port = await freePort();
  const conf = path.join(dir, 'clamd.conf');
  writeFileSync(
    conf,
    `Foreground yes\nDatabaseDirectory ${db}\nTCPSocket ${port}\nTCPAddr 127.0.0.1\nLogFile ${dir}/clamd.log\nPidFile ${dir}/clamd.pid\n`,
  );
  const child = spawn('clamd', ['-c', conf], { detached: true, stdio: 'ignore' });
  return started(child, port, async () => (await ask(port, 'zPING\0')).startsWith('PONG'), `${dir}/clamd.log`);
}

export interface Daemon {
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
export function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    s.on('data', (d) => (answer += d.toString()));
    s.on('close', () => resolve(answer));
    s.on('error', () => resolve(''));
  });
}

/** spamd with the rules Debian ships, local tests only (-L), no user config (-x), no Bayes learning. */
export async function startSpamd(dir: string): Promise<Daemon> {
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
export async function startRspamd(dir: string): Promise<Daemon> {
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
