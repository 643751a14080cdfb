/** `postern dkim generate|list|rotate` and `postern dns DOMAIN`. */
import { MailError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { createResolver } from '../mail/dns/resolver.js';
import { dkimTxtValue } from '../mail/dkim/record.js';
import { normalizeDomain } from '../mail/address.js';
import { Dkim } from '../services/dkim/index.js';
import { recordsFor, renderZone } from '../services/doctor/records.js';
import type { DkimAlgorithm } from '../store/index.js';
import { recordInputs } from '../compose/records.js';
import { withDirectory } from './context.js';
import type { Flags } from './main.js';
import { printJson, printTable, UsageError } from './output.js';

const ALGORITHMS: DkimAlgorithm[] = ['rsa2048', 'rsa4096', 'ed25519'];

function algorithmFlag(flags: Flags): DkimAlgorithm | undefined {
  if (flags.algorithm === undefined) return undefined;
  if (!ALGORITHMS.includes(flags.algorithm as DkimAlgorithm))
    throw new MailError('INVALID_INPUT', `--algorithm must be one of ${ALGORITHMS.join(', ')}`);
  return flags.algorithm as DkimAlgorithm;
}

export async function dkimCommand(flags: Flags, args: string[]): Promise<number> {
  const [sub, domain, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  await withDirectory(flags, async (_dir, config, store) => {
    const dkim = new Dkim({
      store,
      dataDir: config.data_dir,
      resolve: createResolver(config.dns.resolvers),
      log: createLogger({ level: 'warn' }),
    });
    switch (sub) {
      case 'generate': {
        if (!domain)
          throw new UsageError(
            'usage: postern dkim generate DOMAIN [--selector S] [--algorithm rsa2048|rsa4096|ed25519]',
          );
        const key = await dkim.generate(domain, {
          selector: flags.selector,
          algorithm: algorithmFlag(flags) ?? (config.dkim.algorithm as DkimAlgorithm),
        });
        process.stdout.write(
          `DKIM key ${key.selector} (${key.algorithm}) for ${key.domain}; publish:\n${key.selector}._domainkey.${key.domain}. IN TXT "${dkimTxtValue(key)}"\n(postern dns ${key.domain} prints it split for a zone file)\n`,
        );
        return;
      }
      case 'list': {
        await dkim.promotePending(domain === undefined ? undefined : domain).catch(() => []);
        const keys = await dkim.list(domain);
        if (flags.json) return printJson(keys.map(({ keyFile: _k, ...rest }) => rest));
        printTable(
          ['DOMAIN', 'SELECTOR', 'ALGORITHM', 'STATUS', 'CREATED'],
          keys.map((k) => [k.domain, k.selector, k.algorithm, k.status, k.createdAt.toISOString().slice(0, 10)]),
        );
        if (keys.length === 0) process.stdout.write('no DKIM keys\n');
        return;
      }
      case 'rotate': {
        if (!domain) throw new UsageError('usage: postern dkim rotate DOMAIN [--now] [--algorithm A]');
        const key = await dkim.rotate(domain, { now: flags.now === true, algorithm: algorithmFlag(flags) });
        process.stdout.write(
          key.status === 'active'
            ? `now signing ${key.domain} with ${key.selector}; the previous key is retired (keep its record for a week)\n`
            : `new key ${key.selector} for ${key.domain} is pending: publish its record (postern dns ${key.domain}); signing switches once DNS shows it\n`,
        );
        return;
      }
      default:
        throw new UsageError('usage: postern dkim generate|list|rotate DOMAIN');
    }
  });
  return 0;
}

export async function dnsCommand(flags: Flags, args: string[]): Promise<number> {
  const [input, ...extra] = args;
  if (!input || extra.length) throw new UsageError('usage: postern dns DOMAIN [--json]');
  const check = normalizeDomain(input, { requireDot: true });
  if (!check.ok) throw new MailError('INVALID_INPUT', `"${input}" ${check.reason}`);
  await withDirectory(flags, async (_dir, config, store) => {
    const domain = await store.domains.get(check.domain);
    if (!domain) throw new MailError('DOMAIN_NOT_FOUND', `domain ${check.domain} is not hosted`);
    if (domain.aliasOf)
      throw new MailError(
        'INVALID_INPUT',
        `${check.domain} is an alias of ${domain.aliasOf}: it needs the same MX and SPF records; run postern dns ${domain.aliasOf}`,
      );
    const records = recordsFor(
      recordInputs(config, check.domain, await store.dkim.list(check.domain), config.dns.public_addresses),
    );
    if (flags.json) printJson(records);
    else process.stdout.write(renderZone(records));
  });
  return 0;
}
