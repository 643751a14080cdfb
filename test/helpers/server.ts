/** The whole server in-process on a temp directory, every listener on 127.0.0.1 with a free port. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/lib/log.js';
import { RecentLog, teeSink } from '../../src/lib/recent-log.js';
import { startServer, type Server } from '../../src/main.js';
import { writeCertbotCert } from './certs.js';
import { startDns, type TestDns } from './dns-server.js';
import { tempDir } from './tmp.js';

export interface TestServer {
  server: Server;
  /** The DNS server the test server resolves with (127.0.0.1 only). */
  dns: TestDns;
  dir: string;
  configFile: string;
  port(name: string): number;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export const LISTENERS = [
  'smtp',
  'submission',
  'submissions',
  'lmtp',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'managesieve',
  'http',
  'https',
] as const;

export function testConfigText(
  dir: string,
  extra = '',
  listeners: readonly string[] = ['smtp', 'submission', 'submissions', 'lmtp'],
  dnsAddress?: string,
): string {
  const listen = LISTENERS.map((l) => `${l} = ${listeners.includes(l) ? '["127.0.0.1:0"]' : '[]'}`).join('\n');
  return `hostname = "mail.example.com"
data_dir = "${dir}/data"
[listen]
${listen}
[tls]
certbot_dir = "${dir}/letsencrypt"
[log]
level = "debug"
${dnsAddress ? `[dns]\nresolvers = ["${dnsAddress}"]\n` : ''}${extra.includes('[auth]') ? '' : '[auth]\nfailure_delay = "0s"\n'}${extra}`;
}

/** `logLevel`: what the test keeps of the server's log (debug by default; info for tests that run millions of commands). */
export async function startTestServer(
  options: { extraConfig?: string; listeners?: readonly string[]; logLevel?: 'debug' | 'info' } = {},
): Promise<TestServer> {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  await writeCertbotCert(path.join(dir, 'letsencrypt'), 'mail.example.com', ['mail.example.com']);
  await writeCertbotCert(path.join(dir, 'letsencrypt'), 'mail.example.org', ['mail.example.org']);
  const configFile = path.join(dir, 'postern.toml');
  const dns = await startDns();
  const text = testConfigText(dir, options.extraConfig, options.listeners, dns.address);
  writeFileSync(configFile, text);
  const logs: Array<Record<string, unknown>> = [];
  const recentLog = new RecentLog();
  const log: Logger = createLogger({
    level: options.logLevel ?? 'debug',
    sink: teeSink({ write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) }, recentLog),
  });
  const server = await startServer(parseConfig(text, configFile), log, { recentLog });
  return {
    server,
    dns,
    dir,
    configFile,
    logs,
    port: (name) => {
      const b = server.listeners.bound.find((l) => l.name === name);
      if (!b) throw new Error(`listener ${name} is not running`);
      return b.port;
    },
    stop: async () => {
      await server.stop(1000);
      await dns.close();
    },
  };
}

/** Messages in an account's mailbox, with their full text (per-recipient headers + shared content). */
export async function mailbox(
  server: Server,
  address: string,
  name = 'INBOX',
): Promise<Array<{ uid: number; text: string; size: number }>> {
  const account = await server.store.accounts.get(address);
  if (!account) throw new Error(`no account ${address}`);
  const box = await server.store.mailboxes.get(account.id, name);
  const messages = await server.store.messages.list(box!.id);
  return Promise.all(
    messages.map(async (m) => {
      const text = m.headerPrefix + (await server.store.blobs.get(m.blobHash)).toString('utf8');
      return { uid: m.uid, text, size: m.size };
    }),
  );
}
