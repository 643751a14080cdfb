/** `postern domain|account|alias …`: the PostfixAdmin replacement, over the directory service. */
import { randomBytes } from 'node:crypto';
import { MailError } from '../lib/errors.js';
import { formatSize, parseSize } from '../lib/units.js';
import { createLogger } from '../lib/log.js';
import { createResolver } from '../mail/dns/resolver.js';
import { Dkim } from '../services/dkim/index.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

export async function domainCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, name, ...extra] = args;
  switch (sub) {
    case 'add':
      need(name, 'domain add DOMAIN [--alias-of DOMAIN]');
      noExtra(extra);
      await withDirectory(flags, async (dir, config, store) => {
        const d = await dir.addDomain(name, flags['alias-of'] === undefined ? {} : { aliasOf: flags['alias-of'] });
        process.stdout.write(
          d.aliasOf ? `domain ${d.name} added as an alias of ${d.aliasOf}\n` : `domain ${d.name} added\n`,
        );
        for (const key of d.aliasOf ? [] : await store.dkim.list(d.name)) {
          process.stdout.write(
            `DKIM key ${key.selector} (${key.algorithm}) generated; "postern dns ${d.name}" prints the records to publish\n`,
          );
        }
      });
      return 0;
    case 'list':
      noExtra(name === undefined ? [] : [name, ...extra]);
      await withDirectory(flags, async (dir, _config, store) => {
        const domains = await dir.listDomains();
        const rows = await Promise.all(
          domains.map(async (d) => ({
            name: d.name,
            aliasOf: d.aliasOf,
            accounts: d.aliasOf ? 0 : await store.domains.accountCount(d.name),
            createdAt: d.createdAt.toISOString(),
          })),
        );
        if (flags.json) printJson(rows);
        else
          printTable(
            ['DOMAIN', 'ACCOUNTS', 'ALIAS OF'],
            rows.map((r) => [r.name, String(r.accounts), r.aliasOf ?? '-']),
          );
      });
      return 0;
    case 'remove':
      need(name, 'domain remove DOMAIN [--force]');
      noExtra(extra);
      await withDirectory(flags, async (dir) => {
        process.stdout.write(`domain ${await dir.removeDomain(name, { force: flags.force === true })} removed\n`);
      });
      return 0;
    default:
      throw new UsageError('usage: postern domain add|list|remove DOMAIN');
  }
}

export async function accountCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, address, ...extra] = args;
  switch (sub) {
    case 'add': {
      need(address, 'account add ADDRESS [--password-stdin] [--quota 2G]');
      noExtra(extra);
      const quotaBytes = flags.quota === undefined ? 0 : sizeOrThrow(flags.quota);
      const generated = !flags['password-stdin'];
      const password = generated ? randomBytes(12).toString('base64url') : await readPassword();
      await withDirectory(flags, async (dir) => {
        const a = await dir.addAccount(address, password, { quotaBytes });
        process.stdout.write(`account ${a.address} added${generated ? `; password: ${password}` : ''}\n`);
      });
      return 0;
    }
    case 'list':
      noExtra(extra);
      await withDirectory(flags, async (dir) => {
        const accounts = await dir.listAccounts(address);
        const rows = accounts.map((a) => ({
          address: a.address,
          quotaBytes: a.quotaBytes,
          usedBytes: a.usedBytes,
          enabled: a.isEnabled,
          createdAt: a.createdAt.toISOString(),
        }));
        if (flags.json) printJson(rows);
        else
          printTable(
            ['ADDRESS', 'USED', 'QUOTA', 'ENABLED'],
            rows.map((r) => [
              r.address,
              formatSize(r.usedBytes),
              r.quotaBytes ? formatSize(r.quotaBytes) : 'none',
              r.enabled ? 'yes' : 'no',
            ]),
          );
      });
      return 0;
    case 'remove':
      need(address, 'account remove ADDRESS');
      noExtra(extra);
      await withDirectory(flags, async (dir) => {
        process.stdout.write(`account ${await dir.removeAccount(address)} removed\n`);
      });
      return 0;
    case 'passwd': {
      need(address, 'account passwd ADDRESS --password-stdin');
      noExtra(extra);
      if (!flags['password-stdin'])
        throw new UsageError('account passwd needs --password-stdin (the new password on standard input)');
      const password = await readPassword();
      await withDirectory(flags, async (dir) => {
        process.stdout.write(`password of ${await dir.setPassword(address, password)} changed\n`);
      });
      return 0;
    }
    case 'quota': {
      need(address, 'account quota ADDRESS SIZE (0 = none)');
      const text = flags.quota ?? extra[0];
      if (text === undefined) throw new UsageError('usage: postern account quota ADDRESS SIZE (e.g. 2G; 0 = none)');
      noExtra(flags.quota === undefined ? extra.slice(1) : extra);
      const quotaBytes = sizeOrThrow(text);
      await withDirectory(flags, async (dir) => {
        const normalized = await dir.setQuota(address, quotaBytes);
        process.stdout.write(`quota of ${normalized} set to ${quotaBytes ? formatSize(quotaBytes) : 'none'}\n`);
      });
      return 0;
    }
    default:
      throw new UsageError('usage: postern account add|list|remove|passwd|quota ADDRESS');
  }
}

export async function aliasCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, source, ...destinations] = args;
  switch (sub) {
    case 'add':
      need(source, 'alias add SOURCE DEST... (SOURCE @domain = catch-all)');
      if (destinations.length === 0)
        throw new UsageError('usage: postern alias add SOURCE DEST... (at least one destination)');
      await withDirectory(flags, async (dir) => {
        const a = await dir.addAlias(source, destinations);
        process.stdout.write(`alias ${a.source} -> ${a.destinations.join(', ')}\n`);
      });
      return 0;
    case 'list':
      noExtra(destinations);
      await withDirectory(flags, async (dir) => {
        const aliases = await dir.listAliases(source);
        if (flags.json) printJson(aliases);
        else
          printTable(
            ['SOURCE', 'DESTINATIONS'],
            aliases.map((a) => [a.source, a.destinations.join(', ')]),
          );
      });
      return 0;
    case 'remove':
      need(source, 'alias remove SOURCE [DEST...]');
      await withDirectory(flags, async (dir) => {
        const normalized = await dir.removeAlias(source, destinations);
        process.stdout.write(
          destinations.length
            ? `removed ${destinations.join(', ')} from alias ${normalized}\n`
            : `alias ${normalized} removed\n`,
        );
      });
      return 0;
    default:
      throw new UsageError('usage: postern alias add|list|remove SOURCE [DEST...]');
  }
}

function need(value: string | undefined, usage: string): asserts value is string {
  if (value === undefined || value === '') throw new UsageError(`usage: postern ${usage}`);
}

function noExtra(extra: string[]): void {
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
}

function sizeOrThrow(text: string): number {
  const bytes = /^(none|unlimited)$/i.test(text) ? 0 : parseSize(text);
  if (bytes === undefined)
    throw new MailError('INVALID_INPUT', `"${text}" is not a size (write 500M, 2G, or 0 for none)`);
  return bytes;
}

/** The first line of standard input, without its line end. */
export async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total > 4096) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new MailError('INVALID_INPUT', 'no password on standard input');
  return line;
}
