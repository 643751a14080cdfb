/**
 * npm run bench:smtp-filter -- [--rounds 3] [--messages 2000] [--size 4096] [--concurrency 1,10] [--no-engines]
 *
 * What content filtering costs in SMTP ingest (delivered msg/s: the last message visible to IMAP
 * STATUS), in one run on loopback ports chosen at run time, alternating the order in each round:
 * Postern with spam scoring off, Postern with the built-in filter (rules and classifier: the
 * default) untrained and with its classifier trained on 600 corpus messages, Postern with the built-in
 * filter plus Debian's clamd and spamd (when installed; started
 * here offline), and Postfix → LMTP → Dovecot with no filter (Debian's packages, as bench:compare).
 * Prints the medians and the ratios; the built-in filter's cost is 1 − (built-in / off).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startClamd, startSpamd, type Daemon } from '../test/helpers/engines.js';
import { loadCorpus, split } from './corpus.js';
import { ingest } from './ingest.js';
import { median } from './lib.js';
import { missingPeers, startPeerStack, startPosternStack, USERS, type Stack } from './stacks.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '4096' },
    concurrency: { type: 'string', default: '1,10' },
    // Leaves clamd and spamd out: a minute a round each, and not what the built-in filter's cost is about.
    'no-engines': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const COUNT = Number(values.messages);
const SIZE = Number(values.size);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const INGEST = USERS[0]!;

const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const installed = (bin: string) => ['/usr/sbin', '/usr/bin'].some((d) => existsSync(path.join(d, bin)));

interface Variant {
  name: string;
  stack: Stack;
}

const missing = missingPeers();
if (missing.length || process.getuid?.() !== 0) {
  console.error(
    `bench:smtp-filter compares with Postfix + Dovecot, started here as root: apt-get install ${missing.join(' ') || 'postfix dovecot-imapd dovecot-lmtpd'} and run as root`,
  );
  process.exit(2);
}

const engineDir = mkdtempSync(path.join(tmpdir(), 'postern-bench-engines-'));
chmodSync(engineDir, 0o755); // spamd's children run as nobody and read their config below it
const daemons: Daemon[] = [];
const variants: Variant[] = [];
try {
  log('starting the stacks');
  // Spam scoring off for the bench domain: what Postern does without the filter stage.
  const off = '[filter]\ndomains = { "example.com" = { spam_scoring = false } }\n';
  variants.push({ name: 'Postern, spam scoring off', stack: await startPosternStack(off) });
  variants.push({ name: 'Postern, built-in filter', stack: await startPosternStack() });
  // The classifier trained on 600 messages of the SpamAssassin corpus: it then scores every message.
  const trained = await startPosternStack();
  const corpus = split(loadCorpus(), 21).train;
  for (const [as, isSpam] of [
    ['--spam', true],
    ['--ham', false],
  ] as const) {
    const dir = path.join(engineDir, as.slice(2));
    mkdirSync(dir);
    for (const m of corpus.filter((c) => c.isSpam === isSpam).slice(0, 300))
      writeFileSync(path.join(dir, m.name.replace(/\W/g, '_')), m.data);
    trained.cli!('spam', 'learn', as, dir);
  }
  variants.push({ name: 'Postern, built-in filter, classifier trained', stack: trained });
  if (values['no-engines']) log('--no-engines: clamd and spamd are left out');
  else if (installed('clamd') && installed('spamd')) {
    const clamd = await startClamd(path.join(engineDir, 'clamd'));
    const spamd = await startSpamd(path.join(engineDir, 'spamd'));
    daemons.push(clamd, spamd);
    const engines = `[filter]\nclamd = "127.0.0.1:${clamd.port}"\nspamd = "127.0.0.1:${spamd.port}"\n`;
    variants.push({ name: 'Postern, built-in + clamd + spamd', stack: await startPosternStack(engines) });
  } else log('clamd or spamd is not installed: that variant is left out');
  variants.push({ name: 'Postfix + Dovecot, no filter', stack: await startPeerStack() });

  const results = new Map<string, number[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? variants : [...variants].reverse();
    for (const c of CONCURRENCY)
      for (const v of order) {
        log(`round ${round}: ${v.name}, ${COUNT} × ${SIZE} B at concurrency ${c}`);
        const r = await ingest(v.stack, INGEST, COUNT, SIZE, c);
        const key = `${c}|${v.name}`;
        results.set(key, [...(results.get(key) ?? []), r.deliveredPerS]);
      }
  }

  console.log(`\nSMTP delivered msg/s, ${COUNT} × ${SIZE / 1024} KB, median of ${ROUNDS} rounds\n`);
  console.log('| concurrency | stack | delivered msg/s | vs spam scoring off | vs Postfix + Dovecot |');
  console.log('|---|---|---|---|---|');
  for (const c of CONCURRENCY) {
    const of = (name: string) => median(results.get(`${c}|${name}`) ?? []);
    const base = of('Postern, spam scoring off');
    const peer = of('Postfix + Dovecot, no filter');
    for (const v of variants) {
      const m = of(v.name);
      console.log(`| ${c} | ${v.name} | ${m} | ${(m / base).toFixed(2)}× | ${(m / peer).toFixed(2)}× |`);
    }
  }
} finally {
  for (const v of variants) await v.stack.stop();
  for (const d of daemons) d.stop();
  rmSync(engineDir, { recursive: true, force: true });
}
