/**
 * `postern queue list|show|retry|hold|release|delete`: what waits for remote delivery, as mailq,
 * postcat -q, postqueue -f and postsuper -h/-H/-d do for Postfix. A running server picks changes up
 * on its next queue scan (within a second).
 */
import { MailError } from '../lib/errors.js';
import type { QueueEntry, Store } from '../store/index.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

export async function queueCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, id, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  switch (sub) {
    case 'list':
      await withDirectory(flags, async (_dir, _config, store) => {
        const entries = await store.queue.list();
        if (flags.json) return printJson(entries);
        const now = Date.now();
        printTable(
          ['ID', 'SENDER', 'RECIPIENTS', 'AGE', 'ATTEMPTS', 'LAST ERROR'],
          entries.map((e) => [
            e.qid + (e.isHeld ? '!' : ''),
            e.sender || '<>',
            e.recipients.map((r) => r.recipient).join(', '),
            age(now - e.createdAt.getTime()),
            String(Math.max(0, ...e.recipients.map((r) => r.attempts))),
            e.recipients.find((r) => r.lastError)?.lastError ?? '-',
          ]),
        );
        if (entries.length === 0) process.stdout.write('queue is empty\n');
      });
      return 0;
    case 'show':
      if (!id) throw new UsageError('usage: postern queue show ID');
      await withDirectory(flags, async (_dir, _config, store) => {
        const entry = await store.queue.get(id.toUpperCase());
        if (!entry) throw new MailError('NOT_FOUND', `no queue entry ${id}`);
        if (flags.json) return printJson(entry);
        process.stdout.write(
          `id: ${entry.qid}\nsender: ${entry.sender || '<>'}\nsize: ${entry.size}\nqueued: ${entry.createdAt.toISOString()}\n`,
        );
        if (entry.authUser) process.stdout.write(`authenticated: ${entry.authUser}\n`);
        for (const r of entry.recipients) {
          process.stdout.write(
            `recipient: ${r.recipient} ${r.status} attempts=${r.attempts}${r.lastError ? ` last error: ${r.lastError}` : ''}\n`,
          );
        }
        process.stdout.write('\n' + (await store.blobs.get(entry.blobHash)).toString('utf8'));
      });
      return 0;
    case 'retry':
      await withDirectory(flags, async (_dir, _config, store) => {
        if (flags.all || id === undefined) {
          if (!flags.all) throw new UsageError('usage: postern queue retry ID|--all');
          const n = await store.queue.retry();
          return void process.stdout.write(`${n} recipient(s) due now\n`);
        }
        const entry = await existing(store, id);
        const n = await store.queue.retry(entry.qid);
        process.stdout.write(
          `${entry.qid}: ${n} recipient(s) due now${entry.isHeld ? ' (the entry is on hold: "postern queue release" it first)' : ''}\n`,
        );
      });
      return 0;
    case 'hold':
    case 'release':
      if (!id) throw new UsageError(`usage: postern queue ${sub} ID`);
      await withDirectory(flags, async (_dir, _config, store) => {
        const entry = await existing(store, id);
        await store.queue.setHeld(entry.qid, sub === 'hold');
        process.stdout.write(
          sub === 'hold' ? `${entry.qid} is on hold: it will not be sent until released\n` : `${entry.qid} released\n`,
        );
      });
      return 0;
    case 'delete':
      if (!id) throw new UsageError('usage: postern queue delete ID');
      await withDirectory(flags, async (_dir, _config, store) => {
        const entry = await existing(store, id);
        await store.queue.remove(entry.qid);
        process.stdout.write(`${entry.qid} deleted (no bounce sent)\n`);
      });
      return 0;
    default:
      throw new UsageError('usage: postern queue list|show ID|retry ID|--all|hold ID|release ID|delete ID');
  }
}

async function existing(store: Store, id: string): Promise<QueueEntry> {
  const entry = await store.queue.get(id.toUpperCase());
  if (!entry) throw new MailError('NOT_FOUND', `no queue entry ${id} ("postern queue list" shows them)`);
  return entry;
}

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
