/**
 * The per-protocol part of a listener check, after the connection (and implicit TLS) is up: SMTP
 * greeting and EHLO (STARTTLS offered, AUTH only after it), IMAP CAPABILITY (STARTTLS, LOGINDISABLED
 * before it), POP3 CAPA (STLS, no USER before it). Each upgrades with STARTTLS and checks the
 * certificate it gets.
 */
import type { Finding } from './findings.js';
import type { Conversation } from './line-client.js';
import type { ListenerTarget, NetInputs } from './net.js';
import type { TlsFindings } from './tls-findings.js';

const PLAINTEXT_AUTH_FIX = '[tls]\nallow_plaintext_auth = false';

export async function speak(l: ListenerTarget, conn: Conversation, i: NetInputs, tlsSeen: TlsFindings): Promise<void> {
  switch (l.name) {
    case 'smtp':
    case 'submission':
    case 'submissions':
      return speakSmtp(l, conn, i, tlsSeen);
    case 'imap':
    case 'imaps':
      return speakImap(l, conn, i, tlsSeen);
    case 'pop3':
    case 'pop3s':
      return speakPop3(l, conn, i, tlsSeen);
    default:
      return; // http, https, lmtp: accepting (and the https handshake) is the check
  }
}

/** RFC 5321 §4.2 greeting; RFC 3207 STARTTLS; RFC 4954 AUTH; RFC 6409 submission. */
async function speakSmtp(l: ListenerTarget, conn: Conversation, i: NetInputs, tlsSeen: TlsFindings): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
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
        fix: PLAINTEXT_AUTH_FIX,
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
}

/** RFC 9051 §7.1 greeting with CAPABILITY; §6.2.1 STARTTLS; LOGINDISABLED before TLS. */
async function speakImap(l: ListenerTarget, conn: Conversation, i: NetInputs, tlsSeen: TlsFindings): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
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
        fix: PLAINTEXT_AUTH_FIX,
      });
    }
    await conn.imap('b STARTTLS');
    await conn.upgrade(i.hostname);
    tlsSeen.check(conn.tls!, i.hostname, i.hostname, l.name);
  }
  await conn.imap('z LOGOUT').catch(() => undefined);
  return;
}

/** RFC 1939 greeting; RFC 2449 CAPA; RFC 2595 §4 STLS. */
async function speakPop3(l: ListenerTarget, conn: Conversation, i: NetInputs, tlsSeen: TlsFindings): Promise<void> {
  const server = (f: Omit<Finding, 'scope'>) => i.findings.add({ ...f, scope: i.hostname });
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
        fix: PLAINTEXT_AUTH_FIX,
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
