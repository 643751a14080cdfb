/**
 * `postern quarantine list [DOMAIN] | show ID | release ID | delete ID`: mail the content filter held
 * (as amavisd-release and Amavis's quarantine do). A release delivers the held copy to its recipient
 * now; the running server need not be told.
 */
import { createLogger } from '../lib/log.js';
import { createResolver } from '../mail/dns/resolver.js';
import type { Directory } from '../services/directory/index.js';
import { Dkim } from '../services/dkim/index.js';
import { Quarantine } from '../services/quarantine/index.js';
import { SieveScripts } from '../services/sieve/index.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/index.js';
import { createDelivery, sieveLimits } from '../compose/services.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

export async function quarantineCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, arg, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const id = () => {
    if (!arg || !/^\d+$/.test(arg)) throw new UsageError(`usage: postern quarantine ${sub} ID (a number from "list")`);
    return Number(arg);
  };
  switch (sub) {
    case 'list':
      await withQuarantine(flags, async (q) => {
        const entries = await q.list(arg ? { domain: arg } : {});
        if (flags.json) return printJson(entries);
        printTable(
          ['ID', 'RECEIVED', 'RECIPIENT', 'SENDER', 'SCORE', 'SUBJECT', 'REASON'],
          entries.map((e) => [
            String(e.id),
            e.createdAt.toISOString().slice(0, 16).replace('T', ' '),
            e.recipient,
            e.mailFrom || '<>',
            e.score === null ? '-' : String(e.score),
            e.subject.slice(0, 40) || '-',
            e.reason,
          ]),
        );
        if (entries.length === 0) process.stdout.write('quarantine is empty\n');
      });
      return 0;
    case 'show':
      await withQuarantine(flags, async (q) => {
        const { entry, content } = await q.show(id());
        if (flags.json) return printJson({ ...entry, content: content.toString('utf8') });
        process.stdout.write(
          `id: ${entry.id}\nqueue id: ${entry.qid}\nrecipient: ${entry.recipient}\nsender: ${entry.mailFrom || '<>'}\n` +
            `reason: ${entry.reason}\nheld: ${entry.createdAt.toISOString()}\nexpires: ${entry.expiresAt.toISOString()}\n\n`,
        );
        process.stdout.write(content.toString('utf8'));
      });
      return 0;
    case 'release':
      await withQuarantine(flags, async (q) => {
        const entry = await q.release(id());
        process.stdout.write(`${entry.id}: released to ${entry.recipient}\n`);
      });
      return 0;
    case 'delete':
      await withQuarantine(flags, async (q) => {
        const entry = await q.delete(id());
        process.stdout.write(`${entry.id}: deleted (was for ${entry.recipient})\n`);
      });
      return 0;
    default:
      throw new UsageError('usage: postern quarantine list [DOMAIN] | show ID | release ID | delete ID');
  }
}

function withQuarantine(flags: Flags, fn: (q: Quarantine) => Promise<void>): Promise<void> {
  return withDirectory(flags, (directory, config, store) => fn(quarantineService(directory, config, store)));
}

function quarantineService(directory: Directory, config: Readonly<Config>, store: Store): Quarantine {
  const log = createLogger({ level: 'warn' });
  const dkim = new Dkim({ store, dataDir: config.data_dir, resolve: createResolver(config.dns.resolvers), log });
  const sieve = new SieveScripts({ store, log, limits: sieveLimits(config) });
  const delivery = createDelivery(config, { store, directory, sieve, dkim, log });
  return new Quarantine({ store, delivery, log });
}
