/**
 * npm run bench:jmap -- [--messages 10000] [--rounds 5]
 * Fills a mailbox over SMTP, then times the webmail's work over JMAP next to the same work over IMAP,
 * on one `postern serve` on loopback:
 *   - first screen: the mailboxes and the newest 50 emails with a preview (JMAP: Mailbox/get,
 *     Email/query and Email/get in one request; IMAP: LIST, STATUS, SELECT, FETCH of 50 envelopes
 *     with the first 256 bytes of text);
 *   - what changed after 100 flag changes made over IMAP (JMAP: Email/changes; IMAP without
 *     CONDSTORE: UID FETCH 1:* FLAGS, as a client resynchronises);
 *   - push: from the start of an SMTP delivery to the EventSource state event (JMAP) and to the
 *     EXISTS of an IDLE connection (IMAP).
 * Bounded: fixed counts, a deadline on every wait.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { median, RawImap, startPostern, timed } from './lib.js';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the server's self-signed certificate, on loopback

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '5' } },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const USER = 'bench@example.com';
const PASSWORD = 'bench password 1';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

const server = await startPostern(['smtp', 'imap', 'https'], { plaintextAuth: true });
const base = () => `https://127.0.0.1:${server.port('https')}`;

async function jmap(methodCalls: unknown[]): Promise<Array<[string, Record<string, unknown>, string]>> {
  const r = await fetch(`${base()}/jmap/api`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ using: USING, methodCalls }),
  });
  if (r.status !== 200) throw new Error(`JMAP answered ${r.status}: ${await r.text()}`);
  const body = (await r.json()) as { methodResponses: Array<[string, Record<string, unknown>, string]> };
  const failed = body.methodResponses.find(([name]) => name === 'error');
  if (failed) throw new Error(`JMAP method error: ${JSON.stringify(failed)}`);
  return body.methodResponses;
}

async function deliver(smtp: RawSmtp, i: number): Promise<void> {
  const words = Array.from({ length: 400 }, (_, j) => ['alpha', 'bravo', 'charlie', 'delta', 'echo'][(i + j) % 5]).join(
    ' ',
  );
  await smtp.send(
    'sender@remote.example',
    [USER],
    `From: Sender ${i % 50} <s${i % 50}@remote.example>\r\nTo: ${USER}\r\nSubject: bench message ${i}\r\nMessage-ID: <m${i}@remote.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n${words}\r\n`,
  );
}

/** An IMAP connection in IDLE: resolves when the server announces a new message. */
async function idler(): Promise<{ nextExists(): Promise<void>; close(): void }> {
  const socket = net.connect(server.port('imap'), '127.0.0.1');
  let text = '';
  let waiter: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    if (waiter && /\* \d+ EXISTS\r\n/.test(text)) {
      text = '';
      waiter();
      waiter = undefined;
    }
  });
  const until = async (pattern: RegExp) => {
    for (let i = 0; i < 500 && !pattern.test(text); i++) await new Promise((r) => setTimeout(r, 10));
    if (!pattern.test(text)) throw new Error(`IMAP: no ${pattern} in ${text.slice(-200)}`);
    text = '';
  };
  await until(/^\* OK/m);
  socket.write(`a LOGIN ${USER} "${PASSWORD}"\r\nb SELECT INBOX\r\n`);
  await until(/^b OK/m);
  socket.write('c IDLE\r\n');
  await until(/^\+ /m);
  return {
    nextExists: () => new Promise<void>((resolve) => (waiter = resolve)),
    close: () => socket.destroy(),
  };
}

/** An EventSource stream: resolves at each state event. */
async function eventSource(): Promise<{ nextState(): Promise<void>; close(): Promise<void> }> {
  const r = await fetch(`${base()}/jmap/eventsource?types=*&closeafter=no&ping=0`, {
    headers: { authorization: AUTH },
  });
  const reader = r.body!.getReader();
  let text = '';
  const nextState = async () => {
    for (;;) {
      const end = text.indexOf('\n\n');
      if (end >= 0) {
        const event = text.slice(0, end);
        text = text.slice(end + 2);
        if (/^event: state$/m.test(event)) return;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      text += Buffer.from(value).toString('utf8');
    }
  };
  await nextState(); // the current state, sent first
  return { nextState, close: () => reader.cancel() };
}

try {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = await RawSmtp.connect(server.port('smtp'));
      while (next < N) await deliver(c, next++);
      c.close();
    }),
  );
  const fillSec = (performance.now() - t0) / 1000;
  const results: Record<string, { jmap: number; imap: number }> = {};

  // The first screen.
  const [boxes] = await jmap([['Mailbox/get', { accountId: 'a1' }, '0']]);
  const inbox = (boxes![1].list as Array<{ id: string; role: string }>).find((b) => b.role === 'inbox')!.id;
  const firstScreen = () =>
    jmap([
      ['Mailbox/get', { accountId: 'a1' }, 'b'],
      [
        'Email/query',
        {
          accountId: 'a1',
          filter: { inMailbox: inbox },
          sort: [{ property: 'receivedAt', isAscending: false }],
          limit: 50,
          calculateTotal: true,
        },
        'q',
      ],
      [
        'Email/get',
        {
          accountId: 'a1',
          '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
          properties: ['subject', 'from', 'receivedAt', 'keywords', 'preview', 'threadId', 'hasAttachment', 'size'],
        },
        'g',
      ],
    ]);
  const screen = await firstScreen();
  if ((screen[2]![1].list as unknown[]).length !== 50) throw new Error('the first screen did not list 50 emails');
  const imap = await RawImap.connect(server.port('imap'));
  await imap.command(`LOGIN ${USER} "${PASSWORD}"`);
  const imapScreen = async () => {
    await imap.command('LIST "" "*"');
    await imap.command('STATUS INBOX (MESSAGES UNSEEN)');
    await imap.command('SELECT INBOX');
    await imap.command(`FETCH ${N - 49}:${N} (UID FLAGS ENVELOPE BODY.PEEK[TEXT]<0.256>)`);
  };
  const screenJ: number[] = [];
  const screenI: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    screenJ.push(await timed(firstScreen));
    screenI.push(await timed(imapScreen));
  }
  results.firstScreenMs = { jmap: median(screenJ), imap: median(screenI) };

  // What changed after 100 flag changes made over IMAP.
  const changesJ: number[] = [];
  const changesI: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [first] = await jmap([['Email/get', { accountId: 'a1', ids: [], properties: ['id'] }, '0']]);
    const state = first![1].state as string;
    await imap.command('SELECT INBOX');
    for (let k = 0; k < 100; k++) {
      // Each store changes a flag: \Seen set on the first pass over the mailbox, cleared on the next.
      const n = r * 100 + k;
      await imap.command(`UID STORE ${1 + (n % N)} ${Math.floor(n / N) % 2 ? '-' : '+'}FLAGS.SILENT (\\Seen)`);
    }
    let changed = 0;
    changesJ.push(
      await timed(async () => {
        const [c] = await jmap([['Email/changes', { accountId: 'a1', sinceState: state }, '0']]);
        changed = (c![1].updated as unknown[]).length;
      }),
    );
    if (changed !== 100) throw new Error(`Email/changes found ${changed} updated emails, not 100`);
    changesI.push(await timed(() => imap.command('UID FETCH 1:* (FLAGS)')));
  }
  results.changesAfter100FlagsMs = { jmap: median(changesJ), imap: median(changesI) };
  imap.close();

  // Push: from the start of a delivery to the event.
  const smtp = await RawSmtp.connect(server.port('smtp'));
  const es = await eventSource();
  const idle = await idler();
  const pushJ: number[] = [];
  const pushI: number[] = [];
  for (let r = 0; r < ROUNDS * 2; r++) {
    const started = performance.now();
    const seen = { jmap: 0, imap: 0 };
    await Promise.all([
      es.nextState().then(() => (seen.jmap = performance.now() - started)),
      idle.nextExists().then(() => (seen.imap = performance.now() - started)),
      deliver(smtp, N + r),
    ]);
    pushJ.push(seen.jmap);
    pushI.push(seen.imap);
  }
  results.pushAfterDeliveryMs = { jmap: median(pushJ), imap: median(pushI) };
  await es.close();
  idle.close();
  smtp.close();

  const rows = Object.entries(results).map(
    ([k, v]) => `| ${k} | ${v.jmap.toFixed(1)} | ${v.imap.toFixed(1)} | ${(v.imap / v.jmap).toFixed(2)}× |`,
  );
  console.log(
    `postern jmap: ${N} messages (filled in ${fillSec.toFixed(1)} s), median of ${ROUNDS} rounds (push: ${ROUNDS * 2})\n\n| work | JMAP ms | IMAP ms | IMAP / JMAP |\n|---|---:|---:|---:|\n${rows.join('\n')}`,
  );
  console.log(JSON.stringify({ messages: N, rounds: ROUNDS, ...results }));
} finally {
  await server.stop();
}
