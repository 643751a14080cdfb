/**
 * `postern <command>`: the admin's tool. Every command takes --config FILE (default ./postern.toml or
 * $POSTERN_CONFIG). Bad input: one line on stderr, a non-zero exit, nothing changed.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/load.js';
import { isMailError } from '../lib/errors.js';
import { UsageError } from './output.js';
import { adminCommand } from './admin.js';
import { accountCommand, aliasCommand, domainCommand } from './directory.js';
import { dkimCommand, dnsCommand } from './dkim.js';
import { quarantineCommand } from './quarantine.js';
import { queueCommand } from './queue.js';
import { certCommand } from './cert.js';
import { doctorCommand } from './doctor.js';
import { sieveCommand } from './sieve.js';
import { spamCommand } from './spam.js';
import { checkConfigCommand, demoCommand, initCommand, serveCommand } from './server.js';

export const USAGE = `usage: postern <command> [options]

  init --hostname mail.example.com [--data DIR]   write a commented postern.toml
  serve                                           run all listeners
  demo                                            run a demo under ./data on high ports
  check-config                                    validate the configuration
  domain  add DOMAIN [--alias-of DOMAIN] | list | remove DOMAIN [--force]
  account add ADDRESS [--password-stdin] [--quota 2G] | list [DOMAIN]
          remove ADDRESS | passwd ADDRESS [--password-stdin] | quota ADDRESS SIZE
  alias   add SOURCE DEST... | list [DOMAIN] | remove SOURCE [DEST...]   (SOURCE @domain = catch-all)
  admin   add ADDRESS [--domain D]... [--password-stdin] | list | remove ADDRESS
                                                  admins of the admin API (no --domain: superadmin)
  queue   list | show ID                          messages waiting for remote delivery
          retry ID|--all | hold ID | release ID | delete ID   (postqueue -f, postsuper -h/-H/-d)
  quarantine list [DOMAIN] | show ID | release ID | delete ID   mail the content filter held
  sieve   list ADDRESS | show ADDRESS NAME | put ADDRESS NAME FILE|- [--activate]
          activate ADDRESS NAME | deactivate ADDRESS | remove ADDRESS NAME | check FILE|-
  spam    learn --spam|--ham [--account ADDRESS] FILE|DIR|MBOX...   teach the classifier
          stats [--account ADDRESS]               messages and features learnt
          allow|block SCOPE ENTRY | unlist SCOPE ENTRY | lists [SCOPE]
          SCOPE: a hosted domain or an account; ENTRY: an address or a domain
  dkim    generate DOMAIN [--selector S] [--algorithm rsa2048|rsa4096|ed25519] | list [DOMAIN]
          rotate DOMAIN [--now]                   new selector; signs once DNS shows it
  dns     DOMAIN [--json]                         the DNS records to publish for DOMAIN
  doctor  [DOMAIN...] [--json] [--resolver ADDR] [--probe URL] [--outbound-probe HOST:PORT]
          [--dnsbl LIST] [--timeout 10s]          check DNS, TLS, ports and auth; exit 0 ok, 1 warnings, 2 errors
  cert    list [--json]                           certificates served: names, issuer, expiry, source
          issue DOMAIN | renew [DOMAIN] [--force] ACME orders now ([acme] in the config)

  --config FILE   configuration file (default ./postern.toml, or $POSTERN_CONFIG)
  --json          machine-readable output for list commands
`;

export const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  hostname: { type: 'string' },
  data: { type: 'string' },
  force: { type: 'boolean' },
  'alias-of': { type: 'string' },
  'password-stdin': { type: 'boolean' },
  quota: { type: 'string' },
  selector: { type: 'string' },
  algorithm: { type: 'string' },
  now: { type: 'boolean' },
  activate: { type: 'boolean' },
  all: { type: 'boolean' },
  resolver: { type: 'string' },
  probe: { type: 'string' },
  'outbound-probe': { type: 'string' },
  dnsbl: { type: 'string' },
  timeout: { type: 'string' },
  spam: { type: 'boolean' },
  ham: { type: 'boolean' },
  account: { type: 'string' },
  domain: { type: 'string', multiple: true },
} as const satisfies ParseArgsConfig['options'];

export type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''));
  }
  const { values: flags, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (flags.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !flags.help ? 2 : 0;
  }
  switch (command) {
    case 'init':
      return initCommand(flags, rest);
    case 'serve':
      return serveCommand(flags);
    case 'demo':
      return demoCommand(flags);
    case 'check-config':
      return checkConfigCommand(flags);
    case 'domain':
      return domainCommand(flags, rest);
    case 'account':
      return accountCommand(flags, rest);
    case 'alias':
      return aliasCommand(flags, rest);
    case 'queue':
      return queueCommand(flags, rest);
    case 'quarantine':
      return quarantineCommand(flags, rest);
    case 'dkim':
      return dkimCommand(flags, rest);
    case 'dns':
      return dnsCommand(flags, rest);
    case 'cert':
      return certCommand(flags, rest);
    case 'doctor':
      return doctorCommand(flags, rest);
    case 'sieve':
      return sieveCommand(flags, rest);
    case 'spam':
      return spamCommand(flags, rest);
    case 'admin':
      return adminCommand(flags, rest);
    default:
      throw new UsageError(`unknown command "${command}" (see postern --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`postern: ${err.problems.join('\npostern: ')}\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError) {
      process.stderr.write(`postern: ${err.message}\n`);
      process.exitCode = 2;
    } else if (isMailError(err)) {
      process.stderr.write(`postern: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`postern: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 70; // EX_SOFTWARE
    }
  },
);
