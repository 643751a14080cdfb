/**
 * `postern admin add|create ADDRESS [--domain D]... [--password-stdin] | list | remove ADDRESS`: the
 * admins of the admin API and UI. No --domain makes a superadmin. Runs through the Administration
 * service as the CLI (which may do everything), so the same checks and the audit log apply.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../lib/log.js';
import { Administration, cliPrincipal } from '../services/admin/index.js';
import { argon2Passwords } from '../services/auth/password.js';
import { withDirectory } from './context.js';
import { readPassword } from './directory.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

const USAGE = 'usage: postern admin add ADDRESS [--domain D]... [--password-stdin] | list | remove ADDRESS';

export async function adminCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, address, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected ${extra.join(' ')}; ${USAGE}`);
  const run = (fn: (admin: Administration) => Promise<void>) =>
    withDirectory(flags, (directory, _config, store) =>
      fn(new Administration({ store, directory, passwords: argon2Passwords, log: createLogger({ level: 'warn' }) })),
    );
  const me = cliPrincipal();
  switch (sub) {
    case 'add':
    case 'create': {
      if (!address) throw new UsageError(USAGE);
      const domains = flags.domain ?? [];
      const generated = !flags['password-stdin'];
      const password = generated ? randomBytes(12).toString('base64url') : await readPassword();
      await run(async (admin) => {
        const a = await admin.addAdmin(me, {
          address,
          password,
          role: domains.length ? 'domain' : 'superadmin',
          domains,
        });
        const what = a.role === 'superadmin' ? 'superadmin' : `admin of ${a.domains.join(', ')}`;
        process.stdout.write(`${what} ${a.address} added${generated ? `; password: ${password}` : ''}\n`);
      });
      return 0;
    }
    case 'list':
      if (address) throw new UsageError(USAGE);
      await run(async (admin) => {
        const admins = await admin.listAdmins(me);
        if (flags.json) printJson(admins);
        else
          printTable(
            ['ADMIN', 'ROLE', 'DOMAINS'],
            admins.map((a) => [a.address, a.role, a.domains.join(',') || '-']),
          );
      });
      return 0;
    case 'remove':
      if (!address) throw new UsageError(USAGE);
      await run(async (admin) => {
        await admin.removeAdmin(me, address);
        process.stdout.write(`admin ${address} removed\n`);
      });
      return 0;
    default:
      throw new UsageError(USAGE);
  }
}
