/** `postern queue list|show`: what waits for remote delivery (like mailq / postcat -q). */
import { MailError } from '../lib/errors.js';
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
            e.qid + (e.isHeld ? '!' : ''), e.sender || '<>', e.recipients.map((r) => r.recipient).join(', '),
            age(now - e.createdAt.getTime()), String(Math.max(0, ...e.recipients.map((r) => r.attempts))),
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
        process.stdout.write(`id: ${entry.qid}\nsender: ${entry.sender || '<>'}\nsize: ${entry.size}\nqueued: ${entry.createdAt.toISOString()}\n`);
        if (entry.authUser) process.stdout.write(`authenticated: ${entry.authUser}\n`);
        for (const r of entry.recipients) {
          process.stdout.write(`recipient: ${r.recipient} ${r.status} attempts=${r.attempts}${r.lastError ? ` last error: ${r.lastError}` : ''}\n`);
        }
        process.stdout.write('\n' + (await store.blobs.get(entry.blobHash)).toString('utf8'));
      });
      return 0;
    default:
      throw new UsageError('usage: postern queue list|show [ID]');
  }
}

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
