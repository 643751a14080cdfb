/**
 * `postern spam learn --spam|--ham [--account ADDRESS] FILE|DIR|MBOX…` and `postern spam stats
 * [--account ADDRESS]`: teaching the built-in classifier from mail sorted elsewhere (as `sa-learn`
 * does), into an account's model or the global one; and `postern spam allow|block SCOPE ENTRY |
 * unlist SCOPE ENTRY | lists [SCOPE]`: the allow and block lists of a hosted domain or an account
 * (SpamAssassin's whitelist_auth and blacklist_from, per recipient). A path is a file holding one message, an mbox
 * (split on its "From " lines), or a directory of message files (a maildir's cur/ and new/ included).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createClassifier } from '../compose/services.js';
import { MailError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { LEARN_BATCH } from '../services/filters/classifier/index.js';
import { FilterListService } from '../services/filters/lists.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

const USAGE =
  'usage: postern spam learn --spam|--ham [--account ADDRESS] FILE|DIR|MBOX... | stats [--account ADDRESS] | allow|block SCOPE ENTRY | unlist SCOPE ENTRY | lists [SCOPE]';
/** Files read from one directory tree, at most. */
const MAX_FILES = 1_000_000;

export async function spamCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, ...paths] = args;
  if (sub === 'learn') {
    if (flags.spam === flags.ham || paths.length === 0) throw new UsageError(USAGE);
    const as = flags.spam ? 'spam' : 'ham';
    const files = paths.flatMap((p) => messageFiles(p));
    return withClassifier(flags, async (classifier, accountId) => {
      const counts = { learnt: 0, relearnt: 0, already: 0 };
      let batch: Buffer[] = [];
      const learn = async () => {
        if (batch.length === 0) return;
        for (const outcome of await classifier.learnMany(accountId, batch, as)) counts[outcome]++;
        batch = [];
      };
      for (const file of files)
        for (const message of messagesOf(file)) {
          batch.push(message);
          if (batch.length >= LEARN_BATCH) await learn();
        }
      await learn();
      const into = flags.account ? flags.account : 'the global model';
      if (flags.json) return printJson({ as, ...counts });
      process.stdout.write(
        `${counts.learnt + counts.relearnt} messages learnt as ${as} into ${into}` +
          ` (${counts.relearnt} of them learnt the other way before, ${counts.already} already learnt)\n`,
      );
    });
  }
  if (sub === 'stats') {
    if (paths.length) throw new UsageError(USAGE);
    return withClassifier(flags, async (classifier, accountId) => {
      const s = await classifier.stats(accountId);
      if (flags.json) return printJson(s);
      printTable(
        ['MODEL', 'SPAM', 'HAM', 'FEATURES'],
        [[flags.account ?? 'global', String(s.spam), String(s.ham), String(s.features)]],
      );
    });
  }
  return listsCommand(flags, args);
}

async function withClassifier(
  flags: Flags,
  fn: (classifier: ReturnType<typeof createClassifier>, accountId: number | undefined) => Promise<void>,
): Promise<number> {
  await withDirectory(flags, async (_dir, config, store) => {
    let accountId: number | undefined;
    if (flags.account) {
      const account = await store.accounts.get(flags.account.toLowerCase());
      if (!account) throw new MailError('ACCOUNT_NOT_FOUND', `no account ${flags.account}`);
      accountId = account.id;
    }
    await fn(createClassifier(config, store, createLogger({ level: 'warn' })), accountId);
  });
  return 0;
}

/** The files under a path: itself, or every regular file below a directory (dot files and maildir tmp/ left out). */
function messageFiles(p: string): string[] {
  let st;
  try {
    st = statSync(p);
  } catch (err) {
    throw new UsageError(`cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!st.isDirectory()) return [p];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.') || out.length >= MAX_FILES) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'tmp') walk(full);
      else if (e.isFile()) out.push(full);
    }
  };
  walk(p);
  return out;
}

/** The messages of a file: one, or each of an mbox's (mboxrd: ">From " lines unquoted), with CRLF line ends. */
export function messagesOf(file: string): Buffer[] {
  const text = readFileSync(file).toString('latin1');
  const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
  if (!text.startsWith('From ')) return text.trim() ? [crlf(text)] : [];
  return text
    .split(/^From .*\r?\n/m)
    .filter((m) => m.trim())
    .map((m) => crlf(m.replace(/^>(>*From )/gm, '$1')));
}

/** allow, block, unlist, lists. */
async function listsCommand(flags: Flags, args: string[]): Promise<number> {
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
      throw new UsageError(USAGE);
  }
}
