/**
 * Network checks: every listener accepts and speaks its protocol correctly (SMTP greeting and EHLO,
 * STARTTLS before AUTH, IMAP LOGINDISABLED, POP3 STLS), every TLS handshake with SNI returns a valid
 * certificate for the name, the configured key files match their certificates, the public ports are
 * reachable, and outgoing port 25 is open. This file runs them in order and checks key files, the
 * listeners and TLS per name; the dialogues are dialogues.ts, the certificate checks tls-findings.ts,
 * reachability and port 25 reachability.ts, and the client they all use line-client.ts.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { speak } from './dialogues.js';
import type { Finding, Findings } from './findings.js';
import { ConnectError, Conversation } from './line-client.js';
import { checkOutboundPort25, checkReachability } from './reachability.js';
import { TlsFindings } from './tls-findings.js';

export { ConnectError } from './line-client.js';

export interface ListenerTarget {
  name: string;
  /** Where this host reaches it (a wildcard bind address becomes loopback). */
  host: string;
  port: number;
}

export interface NetInputs {
  hostname: string;
  listeners: readonly ListenerTarget[];
  allowPlaintextAuth: boolean;
  expiryWarningMs: number;
  /** Per-domain names to handshake with, on the smtp (MX hosts) or https (web names) listener. */
  extraNames: ReadonlyArray<{ scope: string; name: string; listener: 'smtp' | 'https' }>;
  certificateFiles: ReadonlyArray<{ keyFile: string; chainFile: string }>;
  publicAddresses: readonly string[];
  /** A reachability service: GET URL?host=IP&port=PORT answers {"open": true|false}. */
  probeUrl?: string | undefined;
  /** Where to test outgoing port 25; undefined = skip. */
  outboundTarget?: { host: string; port: number } | undefined;
  timeoutMs: number;
  findings: Findings;
}

const IMPLICIT_TLS = new Set(['submissions', 'imaps', 'pop3s', 'https']);

export async function checkNetwork(i: NetInputs): Promise<void> {
  const tlsSeen = new TlsFindings(i);
  await checkKeyFiles(i);
  const accepting = await checkListeners(i, tlsSeen);
  await checkNamesOverTls(i, tlsSeen, accepting);
  tlsSeen.flush();
  await checkReachability(i, accepting);
  await checkOutboundPort25(i);
}

/** Each configured key file belongs to its certificate. */
async function checkKeyFiles(i: NetInputs): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  for (const file of i.certificateFiles) {
    try {
      const [chain, key] = await Promise.all([readFile(file.chainFile, 'utf8'), readFile(file.keyFile, 'utf8')]);
      const leaf = new X509Certificate(chain);
      if (!leaf.checkPrivateKey(createPrivateKey(key))) {
        server({
          id: 'tls.key-mismatch',
          severity: 'error',
          summary: `the key ${file.keyFile} does not belong to the certificate ${file.chainFile}`,
          why: 'a certificate whose key does not match cannot be served: the listeners fall back to another (or a self-signed) certificate and clients refuse it',
          observed: `certificate ${leaf.subject.replace(/\n/g, ', ')}, key ${file.keyFile}`,
          expected: 'the private key the certificate was issued for',
          fix: `point the key at the matching file (certbot: live/<name>/privkey.pem next to fullchain.pem), or reissue: postern cert renew --force`,
        });
      }
    } catch (err) {
      server({
        id: 'tls.file',
        severity: 'error',
        summary: `certificate files ${file.chainFile} / ${file.keyFile} cannot be read: ${(err as Error).message}`,
        why: 'the certificate is not served',
        observed: (err as Error).message,
        expected: 'readable PEM files',
        fix: 'check the paths and permissions ([tls] in postern.toml, or the certbot directory)',
      });
    }
  }
}

/**
 * Each listener accepts and speaks its protocol (with the certificate of the hostname on TLS);
 * returns the names of those that accepted.
 */
async function checkListeners(i: NetInputs, tlsSeen: TlsFindings): Promise<Set<string>> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  const accepting = new Set<string>();
  const closedLocally: string[] = [];
  for (const l of i.listeners) {
    const label = `${l.name} (${l.host}:${l.port})`;
    try {
      const conn = await Conversation.open(
        l.host,
        l.port,
        i.timeoutMs,
        IMPLICIT_TLS.has(l.name) ? i.hostname : undefined,
      );
      accepting.add(l.name);
      try {
        if (conn.tls) tlsSeen.check(conn.tls, i.hostname, i.hostname, l.name);
        await speak(l, conn, i, tlsSeen);
      } finally {
        conn.close();
      }
    } catch (err) {
      if (err instanceof ConnectError) {
        closedLocally.push(`${label}: ${err.message}`);
        server({
          id: 'port.closed',
          severity: 'error',
          summary: `the ${label} listener does not accept connections (${err.message})`,
          why: 'the service on this port is unavailable',
          observed: err.message,
          expected: 'a connection',
          fix: 'start the server (postern serve) and check its log for "listening" lines; another program may hold the port',
        });
      } else {
        server({
          id: `${protocolOf(l.name)}.dialogue`,
          severity: 'error',
          summary: `the ${label} listener did not answer as expected: ${(err as Error).message}`,
          why: 'clients and servers that connect get the same answer',
          observed: (err as Error).message,
          expected: 'a normal greeting and capability list',
          fix: 'check the server log for this connection',
        });
      }
    }
  }
  if (i.listeners.length > 0 && closedLocally.length === i.listeners.length) {
    // Nothing answers at all: one finding, not one per port.
    for (let n = i.findings.list.length - 1; n >= 0; n--)
      if (i.findings.list[n]!.id === 'port.closed') i.findings.list.splice(n, 1);
    server({
      id: 'server.not-running',
      severity: 'error',
      summary: 'no listener accepts connections: the server is not running',
      why: 'no mail is received and no client can connect; TLS and port checks were skipped',
      observed: closedLocally.join('; '),
      expected: 'the configured listeners accepting',
      fix: 'postern serve   # or: systemctl start postern; then run the doctor again',
    });
  }
  return accepting;
}

/** The per-domain names (MX hosts on smtp, web names on https) each get a certificate for themselves. */
async function checkNamesOverTls(i: NetInputs, tlsSeen: TlsFindings, accepting: ReadonlySet<string>): Promise<void> {
  for (const extra of i.extraNames) {
    const l = i.listeners.find((x) => x.name === extra.listener && accepting.has(x.name));
    if (!l) continue;
    try {
      const conn = await Conversation.open(
        l.host,
        l.port,
        i.timeoutMs,
        extra.listener === 'https' ? extra.name : undefined,
      );
      try {
        if (extra.listener === 'smtp') {
          await conn.smtpReply();
          await conn.command('EHLO doctor.invalid');
          await conn.command('STARTTLS');
          await conn.upgrade(extra.name);
        }
        tlsSeen.check(conn.tls!, extra.name, extra.scope, extra.listener);
      } finally {
        conn.close();
      }
    } catch (err) {
      i.findings.add({
        scope: extra.scope,
        id: 'tls.handshake',
        severity: 'error',
        summary: `TLS with ${extra.name} on ${extra.listener} failed: ${(err as Error).message}`,
        why: 'senders and clients cannot connect securely',
        observed: (err as Error).message,
        expected: 'a TLS handshake',
        fix: `check the certificate for ${extra.name} (postern cert list)`,
      });
    }
  }
}

function protocolOf(listener: string): string {
  return listener.startsWith('pop3')
    ? 'pop3'
    : listener.startsWith('imap')
      ? 'imap'
      : listener.startsWith('http')
        ? 'http'
        : listener === 'lmtp'
          ? 'lmtp'
          : 'smtp';
}
