/** `postern init`, `check-config`, `serve` and `demo`. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfig } from '../config/init.js';
import { configPath, loadConfig, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isMailError, MailError } from '../lib/errors.js';
import { createLogger, type Logger } from '../lib/log.js';
import { RecentLog, teeSink } from '../lib/recent-log.js';
import { startServer, type Server } from '../main.js';
import { cliPrincipal } from '../services/admin/index.js';
import type { Flags } from './main.js';
import { UsageError } from './output.js';

export async function initCommand(flags: Flags, args: string[]): Promise<number> {
  if (args.length) throw new UsageError(`unexpected argument "${args[0]}"`);
  if (!flags.hostname)
    throw new UsageError('usage: postern init --hostname mail.example.com [--data DIR] [--config FILE]');
  const file = configPath(flags.config);
  if (existsSync(file) && !flags.force)
    throw new MailError('ALREADY_EXISTS', `${file} already exists; pass --force to overwrite it`);
  const text = renderConfig({ hostname: flags.hostname, dataDir: flags.data ?? '/var/lib/postern' });
  parseConfig(text, file); // the same checks as at start: a bad --hostname is refused here
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o640 });
  process.stdout.write(`wrote ${file}\n`);
  return 0;
}

export async function checkConfigCommand(flags: Flags): Promise<number> {
  const file = configPath(flags.config);
  const config = loadConfig(file);
  const problems: string[] = [];
  for (const [i, c] of config.tls.certificate.entries()) {
    for (const [key, f] of [
      ['key', c.key],
      ['chain', c.chain],
    ] as const) {
      try {
        readFileSync(f);
      } catch (err) {
        problems.push(
          `${file}: tls.certificate[${i}].${key} = ${JSON.stringify(f)} cannot be read (${(err as NodeJS.ErrnoException).code})`,
        );
      }
    }
  }
  if (problems.length) {
    process.stderr.write(problems.map((p) => `postern: ${p}\n`).join(''));
    return 1;
  }
  const listeners = Object.values(config.listen).reduce((n, list) => n + list.length, 0);
  process.stdout.write(
    `${file}: OK (hostname ${config.hostname}, data ${config.data_dir}, ${listeners} listen address(es))\n`,
  );
  return 0;
}

export async function serveCommand(flags: Flags): Promise<number> {
  const config = loadConfig(configPath(flags.config));
  const recentLog = new RecentLog();
  const log = createLogger({ level: config.log.level, sink: teeSink(process.stdout, recentLog) });
  await runUntilSignal(config, log, undefined, recentLog);
  return 0;
}

const DEMO_DOMAIN = 'demo.test'; // RFC 2606: .test is never a real domain
const DEMO_ACCOUNT = `demo@${DEMO_DOMAIN}`;
const DEMO_ADMIN = `admin@${DEMO_DOMAIN}`;
const DEMO_PORTS: Record<keyof Config['listen'], number> = {
  smtp: 2525,
  submission: 2587,
  submissions: 2465,
  lmtp: 2424,
  imap: 2143,
  imaps: 2993,
  pop3: 2110,
  pop3s: 2995,
  managesieve: 24190,
  http: 8080,
  https: 8443,
};

/** `npm start`: everything under ./data, loopback high ports, a demo domain and account. */
export async function demoCommand(flags: Flags): Promise<number> {
  const dataDir = path.resolve(flags.data ?? 'data');
  const file = path.join(dataDir, 'postern.toml');
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  if (!existsSync(file)) {
    let text = renderConfig({ hostname: 'localhost', dataDir: '.' });
    for (const [name, port] of Object.entries(DEMO_PORTS)) {
      text = text.replace(new RegExp(`^(${name}\\s*=\\s*)\\[.*?\\]`, 'm'), `$1["127.0.0.1:${port}"]`);
    }
    text = text.replace(
      /^certbot_dir = .*$/m,
      'certbot_dir = "./letsencrypt"       # the demo uses its self-signed certificate',
    );
    writeFileSync(file, text, { mode: 0o640 });
  }
  const config = loadConfig(file);
  const recentLog = new RecentLog();
  const log = createLogger({ level: config.log.level, sink: teeSink(process.stdout, recentLog) });
  const passwordFile = path.join(dataDir, 'demo-password');
  await runUntilSignal(
    config,
    log,
    async (server) => {
      let password: string;
      if (!(await server.directory.getAccount(DEMO_ACCOUNT))) {
        password = randomBytes(9).toString('base64url');
        if (!(await server.store.domains.get(DEMO_DOMAIN))) await server.directory.addDomain(DEMO_DOMAIN);
        await server.directory.addAccount(DEMO_ACCOUNT, password);
        writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
      } else {
        password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : '(see data/demo-password)';
      }
      // The demo's superadmin for the admin API, with the same password.
      if (!(await server.store.admins.get(DEMO_ADMIN)) && existsSync(passwordFile))
        await server.administration.addAdmin(cliPrincipal(), {
          address: DEMO_ADMIN,
          password: readFileSync(passwordFile, 'utf8').trim(),
          role: 'superadmin',
          domains: [],
        });
      const httpsPort = server.listeners.bound.find((b) => b.name === 'https')?.port;
      const lines = [
        '',
        'Postern demo is running.',
        `  config:      ${file}`,
        `  data:        ${dataDir} (SQLite database and message files)`,
        `  certificate: self-signed for "localhost" (clients must accept it)`,
        `  account:     ${DEMO_ACCOUNT}`,
        `  password:    ${password}`,
        '  listeners:',
        ...server.listeners.bound.map(
          (b) => `    ${b.name.padEnd(12)} ${b.host}:${b.port}${b.isImplicitTls ? ' (TLS)' : ''}`,
        ),
        ...server.skipped.map((s) => `    ${s.name.padEnd(12)} not started: ${s.reason}`),
        ...(httpsPort
          ? [
              `  autoconfig:  https://localhost:${httpsPort}/mail/config-v1.1.xml?emailaddress=${DEMO_ACCOUNT}`,
              `  admin API:   curl -k -u ${DEMO_ADMIN}:PASSWORD https://localhost:${httpsPort}/api/v1/domains (same password)`,
            ]
          : []),
        '  manage it:   node bin/postern.js --config data/postern.toml account list',
        '  stop:        Ctrl-C',
        '',
      ];
      process.stderr.write(lines.join('\n') + '\n');
    },
    recentLog,
  );
  return 0;
}

async function runUntilSignal(
  config: Readonly<Config>,
  log: Logger,
  ready?: (server: Server) => Promise<void>,
  recentLog?: RecentLog,
): Promise<void> {
  let server: Server;
  try {
    server = await startServer(config, log, recentLog ? { recentLog } : {});
  } catch (err) {
    if (isMailError(err)) throw err;
    throw new MailError('CONFIG', (err as Error).message, { cause: err });
  }
  if (ready) await ready(server);
  log.info({ hostname: config.hostname, pid: process.pid }, 'postern started');
  await new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30); // run until a signal, even with no listener open
    const stop = (signal: string) => {
      clearInterval(keepAlive);
      log.info({ signal }, 'shutting down');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      server.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', () => void server.tls.reload());
  });
  log.info({}, 'postern stopped');
}
