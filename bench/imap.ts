/**
 * npm run bench:imap -- [--messages 10000] [--clients 200]
 * Fills a mailbox over SMTP, then times IMAP operations against a fresh `postern serve` on loopback:
 * LOGIN+SELECT, FETCH 1:* (UID FLAGS ENVELOPE), FETCH BODY[] ×1000, UID SEARCH HEADER, SEARCH TEXT,
 * STORE 1:*, ops/s of concurrent clients (login/select/fetch-100/logout), RSS per idle connection.
 * Bounded: fixed counts and a time limit per phase.
 */
import { parseArgs } from 'node:util';
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { median, RawImap, startPostern, timed } from './lib.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '200' },
    idle: { type: 'string', default: '1000' },
  },
});
const N = Number(values.messages);
const CLIENTS = Number(values.clients);
const IDLE = Number(values.idle);
const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(
    ' ',
  );

const server = await startPostern(['smtp', 'imap'], { plaintextAuth: true });
try {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = await RawSmtp.connect(server.port('smtp'));
      while (next < N) {
        const i = next++;
        const words = Array.from({ length: 400 }, (_, j) => WORDS[(i * 7 + j * 13) % WORDS.length]).join(' ');
        const special = i === Math.floor(N / 2) ? ' needleword' : '';
        await c.send(
          'sender@remote.example',
          ['bench@example.com'],
          `From: Sender ${i % 50} <s${i % 50}@remote.example>\r\nTo: bench@example.com\r\nSubject: bench message ${i}\r\nMessage-ID: <m${i}@remote.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n${words}${special}\r\n`,
        );
      }
      c.close();
    }),
  );
  const fillSec = (performance.now() - t0) / 1000;

  const results: Record<string, number> = {};
  const login = async () => {
    const c = await RawImap.connect(server.port('imap'));
    await c.command('LOGIN bench@example.com "bench password 1"');
    return c;
  };
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    latencies.push(
      await timed(async () => {
        const c = await login();
        await c.command('SELECT INBOX');
        c.close();
      }),
    );
  }
  results.loginSelectMs = median(latencies);
  const c = await login();
  await c.command('SELECT INBOX');
  results.fetchEnvelopeAllMs = median(
    await Promise.all([0, 1, 2].map(() => 0)).then(async () => [
      await timed(() => c.command('FETCH 1:* (UID FLAGS ENVELOPE)')),
      await timed(() => c.command('FETCH 1:* (UID FLAGS ENVELOPE)')),
      await timed(() => c.command('FETCH 1:* (UID FLAGS ENVELOPE)')),
    ]),
  );
  results.fetchBody1000Ms = await timed(() => c.command('FETCH 1:1000 BODY.PEEK[]'));
  results.uidSearchHeaderMs = median([
    await timed(() => c.command(`UID SEARCH HEADER Message-ID <m${N - 5}@remote.example>`)),
    await timed(() => c.command('UID SEARCH SUBJECT "bench message 77"')),
  ]);
  const textReply: Buffer[] = [];
  results.searchTextMs = median([
    await timed(async () => textReply.push(await c.command('SEARCH TEXT needleword'))),
    await timed(() => c.command('SEARCH TEXT needleword')),
  ]);
  results.storeAllMs = await timed(() => c.command('STORE 1:* +FLAGS.SILENT (\\Seen)'));
  c.close();
  if (!/^\* SEARCH \d+\r\n/.test(textReply[0]!.toString()))
    throw new Error(`SEARCH TEXT should find exactly one message: ${textReply[0]!.toString().slice(0, 200)}`);

  // Memory per idle connection, in a fresh server process (earlier phases leave garbage that the
  // collector frees meanwhile): 1,000 IDLE clients with the 10,000-message mailbox selected.
  await server.restart();
  const warm = await login();
  await warm.command('SELECT INBOX');
  warm.close();
  await new Promise((r) => setTimeout(r, 1000));
  const before = server.rss();
  const idlers: RawImap[] = [];
  for (let i = 0; i < IDLE; i++) {
    const ic = await login();
    await ic.command('SELECT INBOX');
    (ic as unknown as { socket: { write(s: string): void } }).socket.write('I1 IDLE\r\n');
    idlers.push(ic);
  }
  await new Promise((r) => setTimeout(r, 2000));
  results.rssPerIdleKB = Math.round((server.rss() - before) / IDLE / 1024);
  for (const ic of idlers) ic.close();
  // Concurrent clients: login, select, fetch 100, logout, for 10 seconds.
  let ops = 0;
  const until = Date.now() + 10_000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      while (Date.now() < until) {
        const cc = await login();
        await cc.command('SELECT INBOX');
        const from = ((k * 37 + ops) % (N - 100)) + 1;
        await cc.command(`FETCH ${from}:${from + 99} (UID FLAGS ENVELOPE)`);
        await cc.command('LOGOUT').catch(() => {});
        cc.close();
        ops++;
      }
    }),
  );
  results.concurrentOpsPerSec = Math.round(ops / 10);

  results.peakRssMB = Math.round(server.peakRss() / 2 ** 20);
  console.log(`postern imap: ${N} messages (filled in ${fillSec.toFixed(1)} s)`);
  for (const [k, v] of Object.entries(results))
    console.log(`  ${k.padEnd(22)} ${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(1)) : v}`);
  console.log(JSON.stringify({ messages: N, ...results }));
} finally {
  await server.stop();
}
