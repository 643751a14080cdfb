/**
 * `postern spam allow|block SCOPE ENTRY | unlist SCOPE ENTRY | lists [SCOPE]`: the allow and block lists
 * of a hosted domain or an account (SpamAssassin's whitelist_auth and blacklist_from, per recipient).
 */
import { FilterListService } from '../services/filters/lists.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

export async function spamCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, scope, entry, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  switch (sub) {
    case 'allow':
    case 'block':
    case 'unlist':
      if (!scope || !entry) throw new UsageError(`usage: postern spam ${sub} DOMAIN|ACCOUNT ADDRESS|DOMAIN`);
      await withDirectory(flags, async (_directory, _config, store) => {
        const lists = new FilterListService({ store });
        if (sub === 'unlist') {
          await lists.remove(scope, entry);
          return void process.stdout.write(`${entry} removed from the lists of ${scope}\n`);
        }
        const e = await lists.put(scope, entry, sub);
        process.stdout.write(`${e.entry}: ${e.kind === 'allow' ? 'allowed' : 'blocked'} for ${e.scope}\n`);
      });
      return 0;
    case 'lists':
      if (entry) throw new UsageError(`unexpected argument "${entry}"`);
      await withDirectory(flags, async (_directory, _config, store) => {
        const entries = await new FilterListService({ store }).list(scope);
        if (flags.json) return printJson(entries);
        printTable(
          ['SCOPE', 'ENTRY', 'LIST'],
          entries.map((e) => [e.scope, e.entry, e.kind]),
        );
        if (entries.length === 0) process.stdout.write('no allow or block entries\n');
      });
      return 0;
    default:
      throw new UsageError('usage: postern spam allow|block SCOPE ENTRY | unlist SCOPE ENTRY | lists [SCOPE]');
  }
}
