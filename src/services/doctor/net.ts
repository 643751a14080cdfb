/**
 * Network checks: every listener accepts and speaks its protocol correctly (SMTP greeting and EHLO,
 * STARTTLS before AUTH, IMAP LOGINDISABLED, POP3 STLS), every TLS handshake with SNI returns a valid
 * certificate for the name, the configured key files match their certificates, the public ports are
 * reachable, and outgoing port 25 is open.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Finding, Findings } from './findings.js';

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

const PUBLIC = new Set(['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']);
const IMPLICIT_TLS = new Set(['submissions', 'imaps', 'pop3s', 'https']);

export async function checkNetwork(i: NetInputs): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  const tlsSeen = new TlsFindings(i);

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
  tlsSeen.flush();

  // Reachability from outside: through the probe service, else from this host to the public address.
  for (const ip of i.publicAddresses) {
    const closed: Array<{ listener: ListenerTarget; detail: string }> = [];
    const where = (port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    for (const l of i.listeners.filter((x) => PUBLIC.has(x.name) && accepting.has(x.name))) {
      let result: { open: boolean; detail: string };
      if (i.probeUrl) {
        try {
          const url = new URL(i.probeUrl);
          url.searchParams.set('host', ip);
          url.searchParams.set('port', String(l.port));
          const res = await fetch(url, { signal: AbortSignal.timeout(i.timeoutMs * 2) });
          const body = (await res.json()) as { open?: unknown; error?: unknown };
          if (typeof body.open !== 'boolean') throw new Error('the probe answered without "open"');
          result = {
            open: body.open,
            detail: typeof body.error === 'string' ? body.error : body.open ? 'open' : 'closed',
          };
        } catch (err) {
          server({
            id: 'probe.failed',
            severity: 'warning',
            summary: `the probe service ${i.probeUrl} did not answer for ${where(l.port)}: ${(err as Error).message}`,
            why: 'reachability from outside could not be checked',
            observed: (err as Error).message,
            expected: '{"open": true}',
            fix: 'check --probe URL',
          });
          break;
        }
      } else {
        result = await Conversation.open(ip, l.port, i.timeoutMs).then(
          (c) => {
            c.close();
            return { open: true, detail: 'open' };
          },
          (err: Error) => ({ open: false, detail: err.message }),
        );
      }
      if (!result.open) closed.push({ listener: l, detail: result.detail });
    }
    if (closed.length === 0) continue;
    const list = closed.map((c) => `${c.listener.name} ${c.listener.port}`).join(', ');
    const mx = closed.some((c) => c.listener.name === 'smtp');
    server({
      id: 'port.unreachable',
      severity: i.probeUrl ? 'error' : 'warning',
      summary: `not reachable at ${ip}${i.probeUrl ? ' from outside' : ' from this host'}: ${list}`,
      why: mx
        ? 'other servers cannot deliver mail to you, and clients cannot connect'
        : 'clients cannot connect to these services',
      observed: closed.map((c) => `${where(c.listener.port)} ${c.detail}`).join(', '),
      expected: 'open',
      fix: `open ${closed.map((c) => `${c.listener.port}/tcp`).join(', ')} in the firewall and the provider's security group${mx ? ' (some providers block port 25 until asked)' : ''}${i.probeUrl ? '' : '; behind NAT, check from outside with --probe URL'}`,
    });
  }

  if (i.outboundTarget) {
    const { host, port } = i.outboundTarget;
    try {
      const c = await Conversation.open(host, port, i.timeoutMs);
      try {
        await c.smtpReply();
      } catch (err) {
        server({
          id: 'outbound.port25.no-greeting',
          severity: 'warning',
          summary: `an outgoing connection to ${host}:${port} opened but no SMTP greeting came (${(err as Error).message})`,
          why: 'a firewall or proxy that intercepts port 25 stops remote delivery',
          observed: (err as Error).message,
          expected: '220 greeting',
          fix: 'ask your provider whether outgoing port 25 is filtered; else relay through a smarthost ([outbound] smarthost)',
        });
      } finally {
        c.close();
      }
    } catch (err) {
      const timedOut = /timed out/.test((err as Error).message);
      server({
        id: timedOut ? 'outbound.port25.blocked' : 'outbound.port25.refused',
        severity: timedOut ? 'error' : 'warning',
        summary: `outgoing connections to port ${port} fail (${host}: ${(err as Error).message})`,
        why: timedOut
          ? 'a connection that times out means the provider drops outgoing port 25: no mail leaves this server'
          : 'the remote server refused the connection; check with another destination',
        observed: (err as Error).message,
        expected: 'a 220 greeting',
        fix: 'ask your provider to unblock outgoing port 25, or relay through a smarthost:\n[outbound]\nsmarthost = "smtps://user:pass@relay.example.net:465"',
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

/** The per-protocol part of a listener check, after the connection (and implicit TLS) is up. */
async function speak(l: ListenerTarget, conn: Conversation, i: NetInputs, tlsSeen: TlsFindings): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
  const plaintextAuthFix = '[tls]\nallow_plaintext_auth = false';
  switch (l.name) {
    case 'smtp':
    case 'submission':
    case 'submissions': {
      // RFC 5321 §4.2 greeting; RFC 3207 STARTTLS; RFC 4954 AUTH; RFC 6409 submission.
      const greeting = await conn.smtpReply();
      if (!greeting.startsWith('220')) throw new Error(`greeting "${greeting.split('\r\n')[0]}"`);
      const greetName = /^220[ -](\S+)/.exec(greeting)?.[1] ?? '';
      if (greetName.toLowerCase() !== i.hostname.toLowerCase()) {
        server({
          id: 'smtp.greeting.name',
          severity: 'warning',
          summary: `${l.name} greets as "${greetName}", not ${i.hostname}`,
          why: 'receivers and test tools compare the greeting name with the MX and PTR names',
          observed: greeting.split('\r\n')[0]!,
          expected: `220 ${i.hostname} …`,
          fix: `hostname = "${i.hostname}"`,
        });
      }
      let ehlo = await conn.command('EHLO doctor.invalid');
      const caps = (text: string) => text.split('\r\n').map((line) => line.slice(4).toUpperCase());
      if (!conn.tls) {
        if (!caps(ehlo).includes('STARTTLS')) {
          server({
            id: `${l.name}.starttls.missing`,
            severity: 'error',
            summary: `${l.name} on port ${l.port} does not offer STARTTLS`,
            why:
              l.name === 'smtp'
                ? 'mail from other servers travels in clear text, and MTA-STS senders refuse to deliver'
                : 'clients cannot protect their passwords',
            observed: caps(ehlo).join(' '),
            expected: 'STARTTLS',
            fix: 'install a certificate for the hostname (postern cert list)',
          });
          return;
        }
        if (l.name === 'submission' && caps(ehlo).some((c) => c.startsWith('AUTH')) && !i.allowPlaintextAuth) {
          server({
            id: 'submission.auth.plaintext',
            severity: 'error',
            summary: 'submission offers AUTH before STARTTLS',
            why: 'passwords can be sent in clear text',
            observed: caps(ehlo).join(' '),
            expected: 'AUTH only after STARTTLS',
            fix: plaintextAuthFix,
          });
        }
        await conn.command('STARTTLS');
        await conn.upgrade(i.hostname);
        tlsSeen.check(conn.tls!, i.hostname, i.hostname, l.name);
        ehlo = await conn.command('EHLO doctor.invalid');
      }
      if (l.name !== 'smtp' && !caps(ehlo).some((c) => c.startsWith('AUTH '))) {
        server({
          id: 'submission.auth.missing',
          severity: 'error',
          summary: `${l.name} on port ${l.port} offers no AUTH after TLS`,
          why: 'mail clients cannot log in to send',
          observed: caps(ehlo).join(' '),
          expected: 'AUTH PLAIN LOGIN',
          fix: 'check the [auth] section and the server log',
        });
      }
      await conn.command('QUIT').catch(() => undefined);
      return;
    }
    case 'imap':
    case 'imaps': {
      // RFC 9051 §7.1 greeting with CAPABILITY; §6.2.1 STARTTLS; LOGINDISABLED before TLS.
      const greeting = await conn.line();
      if (!/^\* (OK|PREAUTH)/i.test(greeting)) throw new Error(`greeting "${greeting}"`);
      const cap = (await conn.imap('a CAPABILITY')).toUpperCase();
      if (!conn.tls) {
        if (!/\bSTARTTLS\b/.test(cap)) {
          server({
            id: 'imap.starttls.missing',
            severity: 'error',
            summary: `IMAP on port ${l.port} does not offer STARTTLS`,
            why: 'clients cannot protect their passwords',
            observed: cap.trim(),
            expected: 'STARTTLS',
            fix: 'install a certificate for the hostname (postern cert list)',
          });
          return;
        }
        if (!/\bLOGINDISABLED\b/.test(cap) && !i.allowPlaintextAuth) {
          server({
            id: 'imap.logindisabled.missing',
            severity: 'error',
            summary: 'IMAP allows LOGIN before STARTTLS',
            why: 'passwords can be sent in clear text',
            observed: cap.trim(),
            expected: 'LOGINDISABLED before STARTTLS',
            fix: plaintextAuthFix,
          });
        }
        await conn.imap('b STARTTLS');
        await conn.upgrade(i.hostname);
        tlsSeen.check(conn.tls!, i.hostname, i.hostname, l.name);
      }
      await conn.imap('z LOGOUT').catch(() => undefined);
      return;
    }
    case 'pop3':
    case 'pop3s': {
      // RFC 1939 greeting; RFC 2449 CAPA; RFC 2595 §4 STLS.
      const greeting = await conn.line();
      if (!greeting.startsWith('+OK')) throw new Error(`greeting "${greeting}"`);
      if (!conn.tls) {
        const capa = (await conn.pop3Multi('CAPA')).toUpperCase();
        if (!/^STLS$/m.test(capa)) {
          server({
            id: 'pop3.stls.missing',
            severity: 'error',
            summary: `POP3 on port ${l.port} does not offer STLS`,
            why: 'clients cannot protect their passwords',
            observed: capa.replace(/\r\n/g, ' '),
            expected: 'STLS',
            fix: 'install a certificate for the hostname (postern cert list)',
          });
          return;
        }
        if ((/^USER$/m.test(capa) || /^SASL\b.*PLAIN/m.test(capa)) && !i.allowPlaintextAuth) {
          server({
            id: 'pop3.user.plaintext',
            severity: 'error',
            summary: 'POP3 offers USER/PASS before STLS',
            why: 'passwords can be sent in clear text',
            observed: capa.replace(/\r\n/g, ' '),
            expected: 'USER only after STLS',
            fix: plaintextAuthFix,
          });
        }
        const stls = await conn.line('STLS');
        if (!stls.startsWith('+OK')) throw new Error(`STLS answered "${stls}"`);
        await conn.upgrade(i.hostname);
        tlsSeen.check(conn.tls!, i.hostname, i.hostname, l.name);
      }
      await conn.line('QUIT').catch(() => undefined);
      return;
    }
    default:
      return; // http, https, lmtp: accepting (and the https handshake) is the check
  }
}

/** TLS findings, merged so one certificate problem seen on several listeners is one finding. */
class TlsFindings {
  private readonly seen = new Map<string, { finding: Finding; listeners: string[] }>();
  constructor(private readonly i: NetInputs) {}

  check(socket: TLSSocket, name: string, scope: string, listener: string): void {
    const cert = socket.getPeerCertificate(true);
    const add = (f: Omit<Finding, 'scope'>) => {
      const key = `${f.id}|${scope}|${name}`;
      const entry = this.seen.get(key);
      if (entry) entry.listeners.push(listener);
      else this.seen.set(key, { finding: { ...f, scope }, listeners: [listener] });
    };
    if (!cert || !cert.raw) {
      add({
        id: 'tls.handshake',
        severity: 'error',
        summary: `no certificate for ${name}`,
        why: 'TLS cannot be used',
        observed: 'none',
        expected: 'a certificate',
        fix: `postern cert issue ${scope}`,
      });
      return;
    }
    const names = (cert.subjectaltname ?? '')
      .split(/,\s*/)
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    const issueFix = `postern cert issue ${scope === this.i.hostname ? this.i.hostname.split('.').slice(1).join('.') || scope : scope}   # with [acme] in postern.toml; or install a certificate for ${name} (certbot layout or [[tls.certificate]])`;
    if (tls.checkServerIdentity(name, cert) !== undefined) {
      add({
        id: 'tls.name-mismatch',
        severity: 'error',
        summary: `the certificate served for ${name} does not cover it`,
        why: `clients and MTA-STS/DANE senders check the name: connecting to ${name} fails with a certificate name error`,
        observed: names.join(', ') || String(cert.subject?.CN ?? '') || 'no names',
        expected: name,
        fix: issueFix,
      });
    }
    const notAfter = new Date(cert.valid_to);
    const left = notAfter.getTime() - Date.now();
    if (left <= 0) {
      add({
        id: 'tls.expired',
        severity: 'error',
        summary: `the certificate for ${name} expired on ${notAfter.toISOString().slice(0, 10)}`,
        why: 'clients refuse expired certificates, and MTA-STS senders stop delivering',
        observed: `notAfter ${notAfter.toISOString()}`,
        expected: 'a valid certificate',
        fix: `postern cert renew --force   # or renew it with certbot`,
      });
    } else if (left < this.i.expiryWarningMs) {
      add({
        id: 'tls.expiring',
        severity: 'warning',
        summary: `the certificate for ${name} expires in ${Math.floor(left / 86_400_000)} days`,
        why: 'it must be renewed before then; automatic renewal seems not to be working',
        observed: `notAfter ${notAfter.toISOString()}`,
        expected: `more than ${Math.round(this.i.expiryWarningMs / 86_400_000)} days`,
        fix: 'postern cert renew   # and check the ACME log lines',
      });
    }
    const code = socket.authorizationError
      ? String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError)
      : '';
    if (/SELF_SIGNED/.test(code)) {
      add({
        id: 'tls.self-signed',
        severity: 'error',
        summary: `the certificate for ${name} is self-signed`,
        why: 'mail clients warn or refuse, and senders that verify certificates (MTA-STS) will not deliver',
        observed: `issuer ${String(cert.issuer?.CN ?? '')}`,
        expected: 'a certificate from a public CA',
        fix: issueFix,
      });
    } else if (/UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF/.test(code)) {
      add({
        id: 'tls.chain',
        severity: 'error',
        summary: `the certificate chain for ${name} does not reach a trusted root (${code})`,
        why: 'clients cannot verify the certificate: usually the intermediate certificate is missing',
        observed: `issuer ${String(cert.issuer?.CN ?? '')}`,
        expected: 'leaf and intermediates (fullchain.pem)',
        fix: 'serve fullchain.pem, not cert.pem ([[tls.certificate]] chain = ".../fullchain.pem")',
      });
    } else if (code && code !== 'CERT_HAS_EXPIRED' && code !== 'CERT_NOT_YET_VALID' && !/ALTNAME|HOSTNAME/.test(code)) {
      add({
        id: 'tls.untrusted',
        severity: 'error',
        summary: `the certificate for ${name} does not verify (${code})`,
        why: 'clients refuse it',
        observed: code,
        expected: 'a verified chain',
        fix: issueFix,
      });
    }
  }

  flush(): void {
    for (const { finding, listeners } of this.seen.values())
      this.i.findings.add({ ...finding, observed: `${finding.observed} (on ${[...new Set(listeners)].join(', ')})` });
  }
}

export class ConnectError extends Error {}

/** A line-oriented client conversation with a deadline per read; STARTTLS upgrades in place. */
class Conversation {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed: Error | undefined;
  tls: TLSSocket | undefined;

  private constructor(
    private socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  static open(host: string, port: number, timeoutMs: number, tlsName?: string): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(`connection timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const options = { host, port, servername: tlsName, rejectUnauthorized: false };
      const socket: net.Socket = tlsName ? tls.connect(options) : net.connect({ host, port });
      socket.once(tlsName ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        const c = new Conversation(socket, timeoutMs);
        if (tlsName) c.tls = socket as TLSSocket;
        resolve(c);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectError((err as NodeJS.ErrnoException).code ?? err.message));
      });
    });
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer = (this.buffer + d).slice(-65536);
      this.wake();
    });
    socket.on('close', () => {
      this.closed ??= new Error('connection closed');
      this.wake();
    });
    socket.on('error', (err) => {
      this.closed = err;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.closed) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${this.timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends `command` (if given) and reads one line. */
  async line(command?: string): Promise<string> {
    if (command !== undefined) this.socket.write(`${command}\r\n`);
    return this.until(() => {
      const at = this.buffer.indexOf('\r\n');
      if (at < 0) return undefined;
      const l = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      return l;
    });
  }

  /** An SMTP reply, all its lines (RFC 5321 §4.2.1: "250-" continues, "250 " ends). */
  async smtpReply(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return lines.join('\r\n');
    }
  }

  async command(text: string): Promise<string> {
    this.socket.write(`${text}\r\n`);
    const reply = await this.smtpReply();
    if (!/^[23]/.test(reply)) throw new Error(`"${text.split(' ')[0]}" answered "${reply.split('\r\n')[0]}"`);
    return reply;
  }

  /** An IMAP command; returns its untagged lines, throws unless the tagged reply is OK. */
  async imap(command: string): Promise<string> {
    const tag = command.split(' ')[0]!;
    this.socket.write(`${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(`${tag} `)) {
        if (!/^\S+ OK/i.test(l)) throw new Error(`"${command}" answered "${l}"`);
        return lines.join('\r\n');
      }
      lines.push(l);
    }
  }

  /** A POP3 multi-line answer (RFC 1939 §3), without its terminating ".". */
  async pop3Multi(command: string): Promise<string> {
    const first = await this.line(command);
    if (!first.startsWith('+OK')) throw new Error(`"${command}" answered "${first}"`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return lines.join('\r\n');
      lines.push(l);
    }
  }

  upgrade(servername: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.removeAllListeners('data');
      this.socket.removeAllListeners('close');
      this.socket.removeAllListeners('error');
      const t = tls.connect({ socket: this.socket, servername, rejectUnauthorized: false });
      const timer = setTimeout(() => {
        t.destroy();
        reject(new Error(`TLS handshake timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        this.socket = t;
        this.tls = t;
        this.buffer = '';
        this.attach(t);
        resolve();
      });
      t.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`TLS handshake failed: ${err.message}`));
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
