/**
 * npm run bench:compare -- [--rounds 3] [--messages 5000] [--sizes 4096,65536] [--concurrency 1,10,50]
 *                          [--mailbox 10000] [--clients 200] [--idle 1000] [--full] [--profile]
 *
 * The same workloads against Postern and against Postfix → LMTP → Dovecot (Debian's packages, never
 * installed by this script), alternating which stack goes first in each round, on loopback ports
 * chosen at run time. Prints medians and the ratio Postern/peer per figure, and writes JSON, a
 * Markdown table and a PNG chart of the ratios into bench/results/. --full runs the whole matrix
 * (5,000 and 20,000 messages). Bounded: fixed counts, and every phase has a time limit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import { imapLogin, ingest as ingestRun, sendMany } from './ingest.js';
import { median, type RawImap, timed } from './lib.js';
import { memoryOf, missingPeers, startPeerStack, startPosternStack, USERS, type Stack } from './stacks.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '5000' },
    sizes: { type: 'string', default: '4096,65536' },
    concurrency: { type: 'string', default: '1,10,50' },
    mailbox: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '200' },
    idle: { type: 'string', default: '1000' },
    full: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const MESSAGES = values.full ? [5000, 20000] : values.messages.split(',').map(Number);
const SIZES = values.sizes.split(',').map(Number);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const MAILBOX = Number(values.mailbox);
const CLIENTS = Number(values.clients);
const IDLE = Number(values.idle);
const PHASE_LIMIT_MS = 10 * 60_000;
const [INGEST, IMAPUSER] = USERS as [(typeof USERS)[0], (typeof USERS)[0]];

const missing = missingPeers();
if (missing.length) {
  console.error(
    `bench:compare needs Debian's ${missing.join(', ')}: apt-get install postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd`,
  );
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error(
    'bench:compare starts its own Postfix and Dovecot, which must run as root (they drop privileges themselves)',
  );
  process.exit(2);
}
if (values.profile) {
  rmSync('/tmp/prof', { recursive: true, force: true });
  process.env.BENCH_PROF = '1';
}

interface Figure {
  group: string;
  name: string;
  unit: string;
  higherIsBetter: boolean;
  postern: number[];
  peer: number[];
}
const figures = new Map<string, Figure>();
const record = (stack: Stack, group: string, name: string, unit: string, higherIsBetter: boolean, value: number) => {
  const key = `${group}|${name}`;
  const f = figures.get(key) ?? { group, name, unit, higherIsBetter, postern: [], peer: [] };
  (stack.name === 'postern' ? f.postern : f.peer).push(value);
  figures.set(key, f);
};

const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(
    ' ',
  );

function login(stack: Stack, who = IMAPUSER): Promise<RawImap> {
  return imapLogin(stack, who);
}

async function messageCount(stack: Stack, who: typeof INGEST): Promise<number> {
  const c = await login(stack, who);
  try {
    const reply = (await c.command('STATUS INBOX (MESSAGES)')).toString();
    return Number(/MESSAGES (\d+)/.exec(reply)?.[1] ?? 0);
  } finally {
    c.close();
  }
}

/** SMTP ingest: accepted/s (last 250) and delivered/s (all visible to IMAP STATUS on one open connection). */
async function ingest(stack: Stack, count: number, size: number, concurrency: number): Promise<void> {
  const r = await ingestRun(stack, INGEST, count, size, concurrency);
  const group = `SMTP ingest ${count} × ${size / 1024} KB, concurrency ${concurrency}`;
  record(stack, group, 'accepted', 'msg/s', true, r.acceptedPerS);
  record(stack, group, 'delivered (visible over IMAP)', 'msg/s', true, r.deliveredPerS);
}

async function fillMailbox(stack: Stack): Promise<void> {
  await sendMany(stack, IMAPUSER.user, MAILBOX, 20, (i) => {
    const words = Array.from({ length: 400 }, (_, j) => WORDS[(i * 7 + j * 13) % WORDS.length]).join(' ');
    return `From: Sender ${i % 50} <s${i % 50}@remote.example>\r\nTo: ${IMAPUSER.user}\r\nSubject: bench message ${i}\r\nMessage-ID: <m${i}@remote.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n${words}${i === Math.floor(MAILBOX / 2) ? ' needleword' : ''}\r\n`;
  });
  const deadline = Date.now() + PHASE_LIMIT_MS;
  while ((await messageCount(stack, IMAPUSER)) < MAILBOX && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
}

async function imapOps(stack: Stack, round: number): Promise<void> {
  const group = `IMAP on ${MAILBOX.toLocaleString('en')} messages`;
  const logins: number[] = [];
  for (let i = 0; i < 10; i++)
    logins.push(
      await timed(async () => {
        const c = await login(stack);
        await c.command('SELECT INBOX');
        c.close();
      }),
    );
  record(stack, group, 'LOGIN + SELECT', 'ms', false, median(logins));
  const c = await login(stack);
  await c.command('SELECT INBOX');
  record(
    stack,
    group,
    'FETCH 1:* (FLAGS ENVELOPE)',
    'ms',
    false,
    await timed(() => c.command('FETCH 1:* (FLAGS ENVELOPE)')),
  );
  record(stack, group, 'FETCH BODY[] × 1,000', 'ms', false, await timed(() => c.command('FETCH 1:1000 BODY.PEEK[]')));
  record(
    stack,
    group,
    'SEARCH HEADER Message-ID',
    'ms',
    false,
    await timed(() => c.command(`UID SEARCH HEADER Message-ID <m${MAILBOX - 5 - round}@remote.example>`)),
  );
  let found = '';
  record(
    stack,
    group,
    'SEARCH TEXT',
    'ms',
    false,
    await timed(async () => {
      found = (await c.command('SEARCH TEXT needleword')).toString();
    }),
  );
  if (!/^\* SEARCH \d+\r\n/.test(found))
    throw new Error(`${stack.name}: SEARCH TEXT should find one message: ${found.slice(0, 200)}`);
  record(
    stack,
    group,
    'STORE 1:* flags',
    'ms',
    false,
    await timed(() => c.command(`STORE 1:* ${round % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`)),
  );
  c.close();
}

async function concurrentClients(stack: Stack): Promise<void> {
  let ops = 0;
  const seconds = 10;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      while (Date.now() < until) {
        const c = await login(stack);
        await c.command('SELECT INBOX');
        const from = ((k * 37 + ops) % (MAILBOX - 100)) + 1;
        await c.command(`FETCH ${from}:${from + 99} (FLAGS ENVELOPE)`);
        await c.command('LOGOUT').catch(() => undefined);
        c.close();
        ops++;
      }
    }),
  );
  record(
    stack,
    `${CLIENTS} concurrent IMAP clients`,
    'login, select, fetch 100, logout',
    'ops/s',
    true,
    Math.round(ops / seconds),
  );
}

async function idleMemory(stack: Stack): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
  const before = memoryOf(stack.pids());
  const idlers: RawImap[] = [];
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (let i = 0; i < IDLE && Date.now() < deadline; i++) {
    const c = await login(stack);
    await c.command('SELECT INBOX');
    (c as unknown as { socket: { write(s: string): void } }).socket.write('I1 IDLE\r\n');
    idlers.push(c);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const after = memoryOf(stack.pids());
  for (const c of idlers) c.close();
  const group = `${IDLE.toLocaleString('en')} idle IMAP connections`;
  record(stack, group, 'total RSS of all server processes', 'MB', false, Math.round(after.rss / 2 ** 20));
  record(stack, group, 'total PSS (shared pages divided)', 'MB', false, Math.round(after.pss / 2 ** 20));
  record(
    stack,
    group,
    'RSS added per connection',
    'KB',
    false,
    Math.round((after.rss - before.rss) / idlers.length / 1024),
  );
  record(
    stack,
    group,
    'PSS added per connection',
    'KB',
    false,
    Math.round((after.pss - before.pss) / idlers.length / 1024),
  );
}

const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const stacks: Stack[] = [];
try {
  log('starting Postern and Postfix + Dovecot');
  stacks.push(await startPosternStack(), await startPeerStack());
  for (const s of stacks) {
    log(`${s.name}: filling a ${MAILBOX}-message mailbox`);
    await fillMailbox(s);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? stacks : [...stacks].reverse();
    for (const count of MESSAGES)
      for (const size of SIZES)
        for (const c of CONCURRENCY) {
          for (const s of order) {
            log(`round ${round}: ${s.name} ingest ${count} × ${size} B at concurrency ${c}`);
            await ingest(s, count, size, c);
          }
        }
    for (const s of order) {
      log(`round ${round}: ${s.name} IMAP operations and ${CLIENTS} clients`);
      await imapOps(s, round);
      await concurrentClients(s);
    }
  }
  for (const s of stacks) {
    log(`${s.name}: ${IDLE} idle connections`);
    await idleMemory(s);
  }
} finally {
  for (const s of stacks) await s.stop();
}

// Results: medians, ratio Postern/peer, and "better" (>1 means Postern is better whichever way the unit goes).
const rows = [...figures.values()].map((f) => {
  const p = median(f.postern);
  const q = median(f.peer);
  const ratio = q ? p / q : 0;
  return {
    ...f,
    posternMedian: p,
    peerMedian: q,
    ratio: Number(ratio.toFixed(2)),
    advantage: Number((f.higherIsBetter ? ratio : ratio ? 1 / ratio : 0).toFixed(2)),
  };
});
const version = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const date = new Date().toISOString();
const result = {
  date,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGB: Math.round(totalmem() / 2 ** 30) },
  versions: {
    node: process.version,
    postern: JSON.parse(readFileSync('package.json', 'utf8')).version as string,
    postfix: version('/usr/sbin/postconf', ['-h', 'mail_version']),
    dovecot: version('/usr/sbin/dovecot', ['--version']),
  },
  settings: {
    rounds: ROUNDS,
    messages: MESSAGES,
    sizes: SIZES,
    concurrency: CONCURRENCY,
    mailbox: MAILBOX,
    clients: CLIENTS,
    idle: IDLE,
  },
  durability:
    'both fsync before acknowledging: Postern (SQLite synchronous=FULL + fsynced blob files, group commit); Postfix queue file fsync before 250, Dovecot LMTP (mail_fsync=optimized) before its 250',
  rows,
};
const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(1));
const table = [
  `| Workload | Figure | Postern | Postfix + Dovecot | Postern/peer | Postern better by |`,
  `|---|---|---:|---:|---:|---:|`,
  ...rows.map(
    (r) =>
      `| ${r.group} | ${r.name} (${r.unit}, ${r.higherIsBetter ? 'higher' : 'lower'} is better) | ${fmt(r.posternMedian)} | ${fmt(r.peerMedian)} | ${r.ratio.toFixed(2)} | ${r.advantage.toFixed(2)}× |`,
  ),
].join('\n');
const header = `Run ${date.slice(0, 16).replace('T', ' ')} UTC on ${result.machine.cores} cores (${result.machine.cpu}), ${result.machine.memoryGB} GB; Node ${result.versions.node}, Postern ${result.versions.postern}, Postfix ${result.versions.postfix}, Dovecot ${result.versions.dovecot}. Medians of ${ROUNDS} alternating rounds (memory: one run each).`;
mkdirSync('bench/results', { recursive: true });
const stamp = date.slice(0, 19).replace(/[:T]/g, '-');
writeFileSync(`bench/results/compare-${stamp}.json`, JSON.stringify(result, null, 2) + '\n');
writeFileSync(`bench/results/compare-${stamp}.md`, `${header}\n\n${table}\n`);
writeFileSync(`bench/results/compare-${stamp}.png`, chart(rows, header));
console.log(`\n${header}\n\n${table}\n\nwritten: bench/results/compare-${stamp}.{json,md,png}`);
if (values.profile) {
  for (const f of readdirSync('/tmp/prof').filter((n) => n.endsWith('.cpuprofile')))
    console.log(`\nprofile ${f}:\n${summarizeProfile(path.join('/tmp/prof', f))}`);
}

/** Horizontal bars of "Postern better by" on a log scale; 1× is parity. */
function chart(data: typeof rows, title: string): Buffer {
  const rowH = 22;
  const left = 520;
  const width = 1100;
  const plot = width - left - 60;
  const top = 70;
  const height = top + data.length * rowH + 50;
  const max = Math.max(4, ...data.map((r) => r.advantage));
  const min = Math.min(0.25, ...data.map((r) => r.advantage || 1));
  const x = (v: number) => left + ((Math.log(v) - Math.log(min)) / (Math.log(max) - Math.log(min))) * plot;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = data
    .map((r, i) => {
      const y = top + i * rowH;
      const v = r.advantage || min;
      const [x0, x1] = [Math.min(x(1), x(v)), Math.max(x(1), x(v))];
      return (
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(`${r.group}: ${r.name}`)}</text>` +
        `<rect x="${x0}" y="${y + 3}" width="${Math.max(1, x1 - x0)}" height="${rowH - 6}" fill="${v >= 1 ? '#2e7d32' : '#c62828'}"/>` +
        `<text x="${x1 + 4}" y="${y + 15}" font-size="11">${v.toFixed(2)}×</text>`
      );
    })
    .join('');
  const ticks = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64]
    .filter((t) => t >= min && t <= max)
    .map(
      (t) =>
        `<line x1="${x(t)}" y1="${top - 4}" x2="${x(t)}" y2="${height - 40}" stroke="${t === 1 ? '#000' : '#ccc'}"/><text x="${x(t)}" y="${height - 25}" text-anchor="middle" font-size="11">${t}×</text>`,
    )
    .join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif"><rect width="100%" height="100%" fill="#fff"/>` +
    `<text x="20" y="25" font-size="15" font-weight="bold">Postern vs Postfix + Dovecot: how many times better (log scale; right of 1× = Postern better)</text>` +
    `<text x="20" y="45" font-size="10">${esc(title)}</text>${ticks}${bars}</svg>`;
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}

/** The functions with the most self time in a V8 .cpuprofile. */
function summarizeProfile(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
      hitCount?: number;
    }>;
    startTime: number;
    endTime: number;
  };
  const total = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([k, v]) => `  ${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
}
