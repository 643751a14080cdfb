/**
 * `postern sieve list|show|put|activate|deactivate|remove|check`: an account's Sieve scripts, as
 * ManageSieve offers them, for admins moving scripts over from Dovecot (`~/sieve/*.sieve` and the
 * `.dovecot.sieve` link to the active one). A running server uses a changed script at its next delivery.
 */
import { readFileSync } from 'node:fs';
import { MailError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { compileScript, SieveError } from '../mail/sieve/compile.js';
import { SieveScripts, SIEVE_LIMITS } from '../services/sieve/index.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

const USAGE =
  'usage: postern sieve list ADDRESS | show ADDRESS NAME | put ADDRESS NAME FILE|- [--activate] | activate ADDRESS NAME | deactivate ADDRESS | remove ADDRESS NAME | check FILE|-';

export async function sieveCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const want = (n: number) => {
    if (rest.length !== n) throw new UsageError(USAGE);
    return rest as string[];
  };
  switch (sub) {
    case 'check': {
      const [file] = want(1);
      const content = readScript(file!);
      if (Buffer.byteLength(content) > SIEVE_LIMITS.maxScriptBytes)
        throw new MailError('INVALID_INPUT', `script larger than ${SIEVE_LIMITS.maxScriptBytes} bytes`);
      try {
        compileScript(content);
      } catch (err) {
        throw err instanceof SieveError ? new MailError('INVALID_INPUT', `line ${err.line}: ${err.message}`) : err;
      }
      process.stdout.write('script is valid\n');
      return 0;
    }
    case 'list': {
      const [address] = want(1);
      return withScripts(flags, address!, async (scripts, accountId) => {
        const list = await scripts.list(accountId);
        if (flags.json) return printJson(list);
        printTable(
          ['NAME', 'ACTIVE', 'SIZE', 'CHANGED'],
          list.map((s) => [s.name, s.isActive ? 'yes' : '', String(s.size), s.updatedAt.toISOString()]),
        );
        if (list.length === 0) process.stdout.write(`${address} has no scripts\n`);
      });
    }
    case 'show': {
      const [address, name] = want(2);
      return withScripts(
        flags,
        address!,
        async (scripts, accountId) => void process.stdout.write((await scripts.get(accountId, name!)).content),
      );
    }
    case 'put': {
      const [address, name, file] = want(3);
      const content = readScript(file!);
      return withScripts(flags, address!, async (scripts, accountId) => {
        await scripts.put(accountId, name!, content);
        if (flags.activate) await scripts.setActive(accountId, name!);
        process.stdout.write(`${address}: script ${name} stored${flags.activate ? ' and active' : ''}\n`);
      });
    }
    case 'activate': {
      const [address, name] = want(2);
      return withScripts(flags, address!, async (scripts, accountId) => {
        await scripts.setActive(accountId, name!);
        process.stdout.write(`${address}: script ${name} is active\n`);
      });
    }
    case 'deactivate': {
      const [address] = want(1);
      return withScripts(flags, address!, async (scripts, accountId) => {
        await scripts.setActive(accountId, null);
        process.stdout.write(`${address}: no script is active\n`);
      });
    }
    case 'remove': {
      const [address, name] = want(2);
      return withScripts(flags, address!, async (scripts, accountId) => {
        if (!(await scripts.remove(accountId, name!)))
          throw new MailError('INVALID_INPUT', `script ${name} is active: "postern sieve deactivate ${address}" first`);
        process.stdout.write(`${address}: script ${name} removed\n`);
      });
    }
    default:
      throw new UsageError(USAGE);
  }
}

function readScript(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function withScripts(
  flags: Flags,
  address: string,
  fn: (scripts: SieveScripts, accountId: number) => Promise<void>,
): Promise<number> {
  await withDirectory(flags, async (_dir, config, store) => {
    const account = await store.accounts.get(address.toLowerCase());
    if (!account) throw new MailError('ACCOUNT_NOT_FOUND', `no account ${address}`);
    try {
      const limits = {
        maxScriptBytes: config.managesieve.max_script_size,
        maxScripts: config.managesieve.max_scripts,
        maxRedirects: config.managesieve.max_redirects,
      };
      await fn(new SieveScripts({ store, log: createLogger({ level: 'warn' }), limits }), account.id);
    } catch (err) {
      // A script that does not compile: the line, as ManageSieve reports it.
      if (err instanceof SieveError) throw new MailError('INVALID_INPUT', `line ${err.line}: ${err.message}`);
      throw err;
    }
  });
  return 0;
}
