/**
 * SMTP ingest as the benchmarks measure it: `count` messages of `size` bytes over `concurrency`
 * connections, timed to the last 250 (accepted) and to the last message visible to IMAP STATUS on
 * one open connection (delivered). The mailbox is emptied afterwards (not timed).
 */
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { RawImap, timed } from './lib.js';

const PHASE_LIMIT_MS = 10 * 60_000;
const LINE = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';

export interface IngestTarget {
  smtpPort: number;
  imapPort: number;
}

export async function imapLogin(target: IngestTarget, who: { user: string; pass: string }): Promise<RawImap> {
  const c = await RawImap.connect(target.imapPort);
  await c.command(`LOGIN ${who.user} "${who.pass}"`);
  return c;
}

/** Sends `count` messages over `concurrency` connections; resolves with the time to the last 250. */
export async function sendMany(
  target: IngestTarget,
  to: string,
  count: number,
  concurrency: number,
  content: (i: number) => string,
): Promise<number> {
  let next = 0;
  const deadline = Date.now() + PHASE_LIMIT_MS;
  return timed(() =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        const c = await RawSmtp.connect(target.smtpPort);
        while (next < count && Date.now() < deadline) {
          const i = next++;
          await c.send('sender@remote.example', [to], content(i));
        }
        c.close();
      }),
    ),
  );
}

/** Accepted/s and delivered/s of one ingest run into `who`'s INBOX. */
export async function ingest(
  target: IngestTarget,
  who: { user: string; pass: string },
  count: number,
  size: number,
  concurrency: number,
): Promise<{ acceptedPerS: number; deliveredPerS: number }> {
  const body = LINE.repeat(Math.ceil(size / LINE.length)).slice(0, size);
  const watcher = await imapLogin(target, who);
  const status = async () =>
    Number(/MESSAGES (\d+)/.exec((await watcher.command('STATUS INBOX (MESSAGES)')).toString())?.[1] ?? 0);
  const before = await status();
  const t0 = performance.now();
  const acceptedMs = await sendMany(
    target,
    who.user,
    count,
    concurrency,
    (i) =>
      `From: sender@remote.example\r\nTo: ${who.user}\r\nSubject: ingest ${i}\r\nMessage-ID: <i${i}.${Date.now()}@remote.example>\r\n\r\n${body}`,
  );
  const deadline = Date.now() + PHASE_LIMIT_MS;
  while ((await status()) < before + count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const deliveredMs = performance.now() - t0;
  await watcher.command('SELECT INBOX');
  await watcher.command('STORE 1:* +FLAGS.SILENT (\\Deleted)');
  await watcher.command('EXPUNGE');
  watcher.close();
  return {
    acceptedPerS: Math.round((count / acceptedMs) * 1000),
    deliveredPerS: Math.round((count / deliveredMs) * 1000),
  };
}
