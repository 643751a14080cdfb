/**
 * SMTP in three modes on smtp-server (the nodemailer project's server): 'mx' (port 25: mail for hosted
 * domains only, no AUTH), 'submission' (587 with STARTTLS, 465 with implicit TLS: AUTH required,
 * senders limited to owned addresses, remote recipients queued) and 'lmtp' (RFC 2033: one reply per
 * recipient). smtp-server owns the wire protocol; this file owns policy and hands messages to delivery.
 */
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import type { SecureContext } from 'node:tls';
import { isMailError, MailError } from '../../lib/errors.js';
import { newQueueId } from '../../lib/ids.js';
import type { Logger } from '../../lib/log.js';
import { rfc5322Date, type Acceptance, type AcceptRecipient } from '../../services/acceptance/index.js';
import type { Auth, AuthedUser } from '../../services/auth/index.js';
import type { Delivery, RecipientResult } from '../../services/delivery/index.js';
import type { Greylist } from '../../services/filters/greylist.js';
import type { Directory } from '../../services/directory/index.js';
import type { Connection, Session, SessionFactory } from '../shared/connection.js';
import { SMTP_LIMITS } from '../shared/limits.js';
import type { RecipientGuard } from './recipient-guard.js';
import { SMTP_REPLY, SmtpReplyError, smtpError } from './replies.js';

export type SmtpMode = 'mx' | 'submission' | 'lmtp';

export interface SmtpDeps {
  hostname: string;
  /** RCPT TO: where an address leads, and whether its mailbox is full. */
  delivery: Pick<Delivery, 'checkRecipient'>;
  /** MAIL FROM on submission: the addresses the user may send as. */
  directory: Pick<Directory, 'ownsAddress'>;
  /** End of DATA: the one acceptance pipeline. */
  acceptance: Pick<Acceptance, 'accept'>;
  auth: Auth;
  tls: {
    contextFor(servername?: string): SecureContext;
    sniCallback(name: string, cb: (err: Error | null, ctx?: SecureContext) => void): void;
  };
  limits: {
    maxMessageBytes: number;
    maxRecipients: number;
    idleTimeoutMs: number;
    allowPlaintextAuth: boolean;
    authOnMx: boolean;
    /** Refused recipients per connection before 421; past half of them each refusal waits refusalDelayMs. */
    maxRefusedRecipients: number;
    refusalDelayMs: number;
  };
  /** Refused recipients per source across connections (unauthenticated clients). */
  recipientGuard: RecipientGuard;
  /** Greylisting of strangers on port 25 ([filter.greylist]); absent: off. */
  greylist?: Pick<Greylist, 'check'> | undefined;
  log: Logger;
}

type Rcpt = AcceptRecipient;

interface Context {
  conn: Connection;
  log: Logger;
  rcpts: Map<string, Rcpt>;
  /** Recipients refused on this connection (unknown, relay denied …). */
  refused: number;
  /** Ends the session's run(): called when smtp-server closes the connection. */
  closed: () => void;
  /** A message being checked and stored after DATA, settled once its reply is sent. */
  accepting?: Promise<void> | undefined;
}

/** Refusals that guess at addresses, counted against the client; a full mailbox or a tempfail is not a guess. */
const GUESSES = new Set(['5.1.1', '5.1.3', '5.7.1', '5.2.1']);

/** One smtp-server per listener kind; every accepted socket becomes one SMTP session on it. */
export function smtpProtocol(mode: SmtpMode, options: { isImplicitTls: boolean }, deps: SmtpDeps): SessionFactory {
  const contexts = new Map<string, Context>();
  const ctxOf = (session: SMTPServerSession): Context => {
    const ctx = contexts.get(session.id);
    if (!ctx) throw new MailError('TEMPORARY', 'session context lost');
    return ctx;
  };
  const offerAuth = mode === 'submission' || (mode === 'mx' && deps.limits.authOnMx);

  const server = new SMTPServer({
    name: deps.hostname,
    banner: 'Postern', // smtp-server writes "220 <name> ESMTP|LMTP Postern"
    lmtp: mode === 'lmtp',
    secure: options.isImplicitTls,
    logger: false,
    disableReverseLookup: true,
    size: deps.limits.maxMessageBytes,
    maxRecipients: deps.limits.maxRecipients,
    maxCommandLength: SMTP_LIMITS.maxCommandBytes,
    socketTimeout: deps.limits.idleTimeoutMs,
    closeTimeout: 5000,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: mode !== 'submission',
    allowInsecureAuth: deps.limits.allowPlaintextAuth,
    disabledCommands: offerAuth ? [] : ['AUTH'],
    hideSTARTTLS: options.isImplicitTls,
    hideENHANCEDSTATUSCODES: false, // RFC 2034
    hideDSN: false, // RFC 3461: parameters accepted and kept with queued recipients
    SNICallback: (name, cb) => deps.tls.sniCallback(name, cb),

    onAuth(auth: SMTPServerAuthentication, session, cb) {
      const ctx = ctxOf(session);
      if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') return cb(smtpError('AUTH_FAILED'));
      deps.auth
        .authenticate(auth.username ?? '', auth.password ?? '', { ip: ctx.conn.remoteAddress, protocol: 'smtp' })
        .then(
          (user) => {
            ctx.log.info({ user: user.address }, 'authenticated');
            cb(null, { user });
          },
          (err: unknown) => cb(replyFor(err, ctx.log)),
        );
    },

    onMailFrom(address: SMTPServerAddress, session, cb) {
      const ctx = ctxOf(session);
      ctx.rcpts.clear();
      if (mode !== 'submission') return cb();
      const user = session.user as AuthedUser;
      deps.directory.ownsAddress(user.address, address.address).then(
        (owned) => {
          if (owned) return cb();
          ctx.log.warn({ user: user.address, from: address.address }, 'sender refused: address not owned');
          cb(smtpError('SENDER_NOT_OWNED', `<${address.address}>`));
        },
        (err: unknown) => cb(replyFor(err, ctx.log)),
      );
    },

    onRcptTo(address: SMTPServerAddress, session, cb) {
      onRcptTo(mode, deps, ctxOf(session), address, session, cb);
    },

    // smtp-server's STARTTLS removes every listener of the plain socket, ours included: its own
    // close callback is what tells the session (and so the listener's connection count) it is over.
    onClose(session: SMTPServerSession) {
      contexts.get(session.id)?.closed();
    },

    onData(stream: SMTPServerDataStream, session, cb) {
      onData(mode, deps, ctxOf(session), stream, session, cb);
    },
  });
  // The default context for STARTTLS handshakes without SNI is the hostname's current certificate.
  server.secureContext = { get: () => deps.tls.contextFor(undefined) } as unknown as Map<string, SecureContext>;

  return (conn: Connection): Session => smtpSession(server, contexts, conn, deps, offerAuth && !options.isImplicitTls);
}

/** RCPT TO: refused-recipient limits per connection and per network, then where the address leads. */
function onRcptTo(
  mode: SmtpMode,
  deps: SmtpDeps,
  ctx: Context,
  address: SMTPServerAddress,
  session: SMTPServerSession,
  cb: (err?: Error | null) => void,
): void {
  const ip = ctx.conn.remoteAddress;
  // LMTP's client is our own MTA; an authenticated user is known and limited per connection only.
  const isCounted = mode !== 'lmtp';
  const isStranger = isCounted && !session.user;
  if (isCounted && ctx.refused >= deps.limits.maxRefusedRecipients) {
    ctx.log.warn({ refused: ctx.refused }, 'too many refused recipients: closing');
    return cb(
      new SmtpReplyError({
        code: 421,
        enhanced: '4.7.0',
        text: `${deps.hostname} Too many refused recipients, closing connection`,
      }),
    );
  }
  if (isStranger && deps.recipientGuard.isBlocked(ip)) {
    ctx.log.warn({ ip }, 'too many refused recipients from this network: closing');
    return cb(
      new SmtpReplyError({
        code: 421,
        enhanced: '4.7.0',
        text: `${deps.hostname} Too many refused recipients from your network, try again later`,
      }),
    );
  }
  checkRecipient(mode, deps, address, session, ip).then(
    (rcpt) => {
      ctx.rcpts.set(address.address.toLowerCase(), rcpt);
      cb();
    },
    async (err: unknown) => {
      const reply = replyFor(err, ctx.log);
      const isGuess = isCounted && GUESSES.has(reply.message.slice(0, 5));
      if (isGuess) {
        ctx.refused++;
        if (isStranger) deps.recipientGuard.refused(ip);
      }
      ctx.log.info(
        {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: address.address,
          reply: reply.message,
          refused: ctx.refused,
        },
        'recipient refused',
      );
      // Postfix's smtpd_error_sleep_time: a client that keeps guessing gets its answers slowly.
      if (isGuess && ctx.refused > deps.limits.maxRefusedRecipients / 2 && deps.limits.refusalDelayMs > 0) {
        await new Promise((r) => setTimeout(r, deps.limits.refusalDelayMs));
      }
      cb(reply);
    },
  );
}

/** DATA: the message collected (or refused when over the size limit), then accepted. */
function onData(
  mode: SmtpMode,
  deps: SmtpDeps,
  ctx: Context,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  cb: (err: Error | null, message?: string) => void,
): void {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => {
    if (!stream.sizeExceeded) chunks.push(c);
  });
  stream.once('error', (err) => cb(replyFor(err, ctx.log)));
  stream.once('end', () => {
    if (stream.sizeExceeded) {
      ctx.log.info({ bytes: stream.byteLength, limit: deps.limits.maxMessageBytes }, 'message refused: too big');
      return cb(smtpError('MESSAGE_TOO_BIG', `limit is ${deps.limits.maxMessageBytes} bytes`));
    }
    ctx.accepting = acceptMessage(mode, deps, ctx, session, Buffer.concat(chunks))
      .then(
        (reply) => {
          if (mode !== 'lmtp' && !session.user) deps.recipientGuard.delivered(ctx.conn.remoteAddress);
          return mode === 'lmtp' ? cb(null, reply as unknown as string) : cb(null, reply as string);
        },
        (err: unknown) => cb(replyFor(err, ctx.log)),
      )
      .catch((err: unknown) => ctx.log.error({ err }, 'smtp: answering the message failed'))
      .finally(() => {
        ctx.accepting = undefined;
      });
  });
}

/** One SMTP session: the socket handed to smtp-server, its context kept until the connection closes. */
function smtpSession(
  server: SMTPServer,
  contexts: Map<string, Context>,
  conn: Connection,
  deps: SmtpDeps,
  mayHideAuth: boolean,
): Session {
  let closed: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  let smtpConnection:
    { id: string; send(code: number, data?: string | string[], context?: unknown): void; close(): void } | undefined;
  return {
    run() {
      conn.socket.once('close', () => closed());
      server.connect(conn.socket, {});
      smtpConnection = [...server.connections].at(-1) as unknown as typeof smtpConnection;
      if (!smtpConnection) return Promise.resolve();
      const id = smtpConnection.id;
      contexts.set(id, {
        conn,
        log: conn.log.child({ smtp: id }),
        rcpts: new Map(),
        refused: 0,
        closed: () => closed(),
      });
      // Our replies carry their own enhanced status code: keep smtp-server from adding a second one.
      const send = smtpConnection.send.bind(smtpConnection);
      const connection = smtpConnection as unknown as { secure: boolean };
      // RFC 4954 §4, RFC 3207 §4.2: AUTH is advertised only once TLS is up (Postfix's smtpd_tls_auth_only);
      // smtp-server still answers an early AUTH with 538 and MAIL without AUTH with 530.
      const hideAuth = mayHideAuth && !deps.limits.allowPlaintextAuth;
      smtpConnection.send = (code, data, context) => {
        if (hideAuth && code === 250 && Array.isArray(data) && !connection.secure)
          data = data.filter((line) => !line.startsWith('AUTH '));
        return typeof data === 'string' && /^[245]\.\d{1,3}\.\d{1,3} /.test(data)
          ? send(code, data, false)
          : send(code, data, context);
      };
      return done.finally(() => contexts.delete(id));
    },
    shutdown() {
      const end = () => {
        smtpConnection?.send(421, `${deps.hostname} Service shutting down, closing connection`);
        smtpConnection?.close();
        conn.close(); // a client that does not close its side is cut off shortly (Connection.close)
      };
      // A message being stored gets its reply first (within shutdown_timeout): a client told 421
      // instead of the 250 for mail already stored would send it again.
      const accepting = smtpConnection && contexts.get(smtpConnection.id)?.accepting;
      if (accepting) void accepting.then(end);
      else end();
    },
  };
}

async function checkRecipient(
  mode: SmtpMode,
  deps: SmtpDeps,
  address: SMTPServerAddress,
  session: SMTPServerSession,
  ip: string,
): Promise<Rcpt> {
  const dsn = { notify: address.dsn?.notify?.join(','), orcpt: address.dsn?.orcpt };
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const resolution = await deps.delivery.checkRecipient(address.address, sender);
  switch (resolution.kind) {
    case 'ok':
      if (mode === 'mx' && !session.user && deps.greylist) {
        // RFC 6647 §2.1: a temporary refusal at RCPT TO; a real MTA retries, most spamware does not.
        const answer = await deps.greylist.check(ip, sender, address.address);
        if (!answer.pass) throw smtpError('GREYLISTED', `try again in ${answer.retryInSeconds} seconds`);
      }
      return { address: address.address, destinations: resolution.destinations, isRemote: false, ...dsn };
    case 'invalid':
      throw smtpError('INVALID_ADDRESS', resolution.reason);
    case 'unknown':
      throw smtpError('ACCOUNT_NOT_FOUND', `<${address.address}>`);
    case 'disabled':
      throw smtpError('ACCOUNT_DISABLED', `<${address.address}>`);
    case 'bounce-only':
      // An SRS address takes bounces only: anything else would be relayed to whoever it names.
      throw smtpError('POLICY_REJECTED', `<${address.address}> accepts only bounces (MAIL FROM:<>)`);
    case 'not-hosted':
      // RFC 5321 §3.6.2 / principle 2: only authenticated submission may relay to other domains.
      if (mode === 'submission' && session.user)
        return { address: address.address, destinations: [], isRemote: true, ...dsn };
      throw smtpError('RELAY_DENIED', `<${address.address}>`);
  }
}

/** End of DATA: the acceptance pipeline decides and delivers; the answer is one reply, or one per recipient (LMTP). */
async function acceptMessage(
  mode: SmtpMode,
  deps: SmtpDeps,
  ctx: Context,
  session: SMTPServerSession,
  data: Buffer,
): Promise<string | Array<string | Error>> {
  const qid = newQueueId();
  const user = session.user as AuthedUser | undefined;
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const rcpts = session.envelope.rcptTo
    .map((r) => ctx.rcpts.get(r.address.toLowerCase()))
    .filter((r): r is Rcpt => r !== undefined);
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const outcome = await deps.acceptance.accept({
    mode,
    qid,
    data,
    mailFrom,
    recipients: rcpts,
    envid: args && typeof args.ENVID === 'string' ? args.ENVID : undefined,
    ret: args && typeof args.RET === 'string' ? args.RET : undefined,
    client: { ip: ctx.conn.remoteAddress, helo: String(session.hostNameAppearsAs || '') },
    user: user?.address,
    received: receivedHeader(mode, deps.hostname, ctx.conn, session, qid, user),
    log: ctx.log,
  });
  if (outcome.kind === 'refused') throw smtpError(outcome.refusal.code, outcome.refusal.detail || undefined);
  const results = outcome.results;
  const byAddress = new Map(results.map((r) => [r.address, r]));
  const failed = results.filter((r): r is Extract<RecipientResult, { status: 'failed' }> => r.status === 'failed');
  if (failed.length) ctx.log.info({ qid, from: mailFrom, failures: failed }, 'recipients refused after DATA');

  if (mode === 'lmtp') {
    // RFC 2033 §4.2: one reply per accepted RCPT, in order.
    return rcpts.map((r) => {
      const result = byAddress.get(r.address);
      return result && result.status === 'failed'
        ? new SmtpReplyError(SMTP_REPLY[result.code], result.message)
        : `2.0.0 <${r.address}> ${qid} Saved`;
    });
  }
  if (failed.length > 0 && failed.length === rcpts.length)
    throw new SmtpReplyError(SMTP_REPLY[failed[0]!.code], failed[0]!.message);
  return `2.0.0 Ok: queued as ${qid}`;
}

/** RFC 5321 §4.4 trace header, with the RFC 3848 protocol name and TLS/auth details. */
function receivedHeader(
  mode: SmtpMode,
  hostname: string,
  conn: Connection,
  session: SMTPServerSession,
  qid: string,
  user: AuthedUser | undefined,
): string {
  // smtp-server upgrades STARTTLS connections itself: the session knows the cipher.
  const cipher = session.tlsOptions || undefined;
  const tls = cipher ? { protocol: cipher.version, cipher: cipher.name } : conn.tlsInfo();
  const base = mode === 'lmtp' ? 'LMTP' : session.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP';
  const protocol = `${base}${tls ? 'S' : ''}${user ? 'A' : ''}`;
  const helo = String(session.hostNameAppearsAs || 'unknown')
    .replace(/[^\x21-\x7e]/g, '?')
    .slice(0, 255);
  const ip = conn.remoteAddress.includes(':') ? `IPv6:${conn.remoteAddress}` : conn.remoteAddress;
  const lines = [`Received: from ${helo} ([${ip}])`, `\tby ${hostname} (Postern) with ${protocol} id ${qid}`];
  if (tls) lines.push(`\t(using ${tls.protocol} with cipher ${tls.cipher})`);
  if (user) lines.push(`\t(Authenticated sender: ${user.address})`);
  lines[lines.length - 1] += ';';
  lines.push(`\t${rfc5322Date(new Date())}`);
  return lines.join('\r\n');
}

function replyFor(err: unknown, log: Logger): Error {
  if (err instanceof SmtpReplyError) return err;
  if (isMailError(err)) return new SmtpReplyError(SMTP_REPLY[err.code]);
  log.error({ err }, 'temporary failure');
  return smtpError('TEMPORARY');
}
