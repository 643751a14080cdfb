/**
 * One session factory per listener kind, each protocol given its slice of the config and the
 * services it calls: the part of the composition root that knows every protocol.
 */
import type { Config, ListenerName } from '../config/schema.js';
import { parseListenAddress } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { Listeners, ListenerSpec } from '../listeners/index.js';
import type { ClientEndpoints } from '../protocols/http/client-config.js';
import { httpProtocol } from '../protocols/http/session.js';
import { jmapHandlers } from '../protocols/jmap/index.js';
import { ImapSession, type ImapDeps } from '../protocols/imap/session.js';
import { UidSnapshots } from '../protocols/imap/uid-snapshots.js';
import { ManageSieveSession, type ManageSieveDeps } from '../protocols/managesieve/session.js';
import { MaildropLocks } from '../protocols/pop3/maildrop-locks.js';
import { Pop3Session, type Pop3Deps } from '../protocols/pop3/session.js';
import type { Connection } from '../protocols/shared/connection.js';
import { imapLimits, manageSieveLimits, pop3Limits } from '../protocols/shared/limits.js';
import { RecipientGuard } from '../protocols/smtp/recipient-guard.js';
import { smtpProtocol, type SmtpDeps } from '../protocols/smtp/session.js';
import type { Services } from './services.js';

export type ProtocolEntry = Pick<ListenerSpec, 'factory' | 'busyReply' | 'answersAcmeTlsAlpn' | 'alpnProtocols'>;

/** `listeners()` is the started listeners, once there are (HTTP answers with the bound ports). */
export function protocolFactories(
  config: Readonly<Config>,
  services: Services,
  log: Logger,
  listeners: () => Listeners | undefined,
): Record<ListenerName, ProtocolEntry> {
  const smtpDeps = smtpDepsOf(config, services, log);
  const smtpBusy = `421 4.7.0 ${config.hostname} Too many connections, try again later\r\n`;
  const imapDeps = imapDepsOf(config, services, log);
  const imapFactory = (conn: Connection) => new ImapSession(conn, imapDeps);
  const pop3Deps = pop3DepsOf(config, services, log);
  const pop3Factory = (conn: Connection) => new Pop3Session(conn, pop3Deps);
  const manageSieveDeps = manageSieveDepsOf(config, services);
  const httpFactory = httpProtocol({
    hostname: config.hostname,
    challenges: services.challenges,
    log,
    endpoints: () => clientEndpoints(config, listeners()),
    hostedDomain: (name) => services.directory.hostedDomain(name),
    mtaSts: { mode: config.http.mta_sts_mode, maxAgeSeconds: config.http.mta_sts_max_age / 1000 },
    hstsMaxAgeSeconds: config.http.hsts_max_age / 1000,
    httpsPort: () => portOf(config, listeners(), 'https'),
    adminApi: {
      admin: services.administration,
      operations: services.operations,
      self: services.self,
      sessions: services.adminSessions,
      held: services.heldMail,
      authenticateAccount: (user, password, context) =>
        services.auth.authenticate(user, password, context, { appPasswords: false }),
      store: services.store,
      authenticate: (user, password, context) => services.auth.authenticateAdmin(user, password, context),
      mailSessions: services.mailSessions,
      hostname: config.hostname,
      log: log.child({ component: 'admin-api' }),
    },
    jmap: jmapHandlers({
      mailboxes: services.mailboxes,
      views: services.emailViews,
      changes: services.store.changes,
      submitter: services.submitter,
      submissions: services.store.submissions,
      rules: services.self.rules,
      sieve: services.sieve,
      push: services.push,
      identities: services.identities,
      authenticate: (user, password, context) => services.auth.authenticate(user, password, context),
      authenticateBearer: (token, context) => services.auth.authenticateBearer(token, context),
      webSessions: services.mailSessions,
      log: log.child({ component: 'jmap' }),
    }),
    webmail: {
      sessions: services.mailSessions,
      hostedDomain: (name) => services.directory.hostedDomain(name),
      log: log.child({ component: 'webmail' }),
    },
  });
  return {
    smtp: { factory: smtpProtocol('mx', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    submission: { factory: smtpProtocol('submission', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    submissions: { factory: smtpProtocol('submission', { isImplicitTls: true }, smtpDeps) },
    lmtp: { factory: smtpProtocol('lmtp', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    imap: { factory: imapFactory, busyReply: '* BYE Too many connections, try again later\r\n' },
    imaps: { factory: imapFactory },
    pop3: { factory: pop3Factory, busyReply: '-ERR [SYS/TEMP] Too many connections, try again later\r\n' },
    pop3s: { factory: pop3Factory },
    managesieve: {
      factory: (conn: Connection) => new ManageSieveSession(conn, manageSieveDeps),
      busyReply: 'BYE (TRYLATER) "Too many connections, try again later"\r\n',
    },
    http: { factory: httpFactory },
    https: { factory: httpFactory, answersAcmeTlsAlpn: true, alpnProtocols: ['http/1.1'] },
  };
}

function smtpDepsOf(config: Readonly<Config>, s: Services, log: Logger): SmtpDeps {
  return {
    hostname: config.hostname,
    delivery: s.delivery,
    directory: s.directory,
    acceptance: s.acceptance,
    auth: s.auth,
    tls: s.tls,
    log,
    limits: {
      maxMessageBytes: config.limits.max_message_size,
      maxRecipients: config.smtp.max_recipients,
      idleTimeoutMs: config.smtp.idle_timeout,
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
      authOnMx: config.smtp.auth_on_mx,
      maxRefusedRecipients: config.smtp.max_refused_recipients,
      refusalDelayMs: config.smtp.refusal_delay,
    },
    recipientGuard: new RecipientGuard({
      maxPerSource: config.smtp.max_refused_recipients_per_ip,
      windowMs: config.smtp.refused_recipients_window,
      ipv6Prefix: config.limits.ipv6_prefix,
    }),
    greylist: s.greylist,
  };
}

function imapDepsOf(config: Readonly<Config>, s: Services, log: Logger): ImapDeps {
  const limits = imapLimits({
    maxMessageBytes: config.limits.max_message_size,
    loginTimeoutMs: config.limits.login_timeout,
    idleTimeoutMs: config.imap.idle_timeout,
  });
  return {
    hostname: config.hostname,
    auth: s.auth,
    mailboxes: s.mailboxes,
    changes: s.store.changes,
    log,
    uidSnapshots: new UidSnapshots(),
    limits: { ...limits, allowPlaintextAuth: config.tls.allow_plaintext_auth },
  };
}

function pop3DepsOf(config: Readonly<Config>, s: Services, log: Logger): Pop3Deps {
  const limits = pop3Limits({
    loginTimeoutMs: config.limits.login_timeout,
    idleTimeoutMs: config.pop3.idle_timeout,
    maxBadCommands: config.pop3.max_bad_commands,
  });
  return {
    hostname: config.hostname,
    auth: s.auth,
    mailboxes: s.mailboxes,
    log,
    locks: new MaildropLocks(config.pop3.lock_takeover_after),
    limits: { ...limits, allowPlaintextAuth: config.tls.allow_plaintext_auth },
  };
}

function manageSieveDepsOf(config: Readonly<Config>, s: Services): ManageSieveDeps {
  const limits = manageSieveLimits({
    loginTimeoutMs: config.limits.login_timeout,
    idleTimeoutMs: config.managesieve.idle_timeout,
    maxScriptBytes: config.managesieve.max_script_size,
    maxBadCommands: config.managesieve.max_bad_commands,
  });
  return {
    hostname: config.hostname,
    auth: s.auth,
    sieve: s.sieve,
    limits: { ...limits, allowPlaintextAuth: config.tls.allow_plaintext_auth },
  };
}

/** Where clients connect: the host name (on the certificate) and the port of each listener. */
function clientEndpoints(config: Readonly<Config>, listeners: Listeners | undefined): ClientEndpoints {
  const port = (name: ListenerName) => portOf(config, listeners, name);
  return {
    host: config.hostname,
    imaps: port('imaps'),
    imap: port('imap'),
    pop3s: port('pop3s'),
    pop3: port('pop3'),
    submissions: port('submissions'),
    submission: port('submission'),
  };
}

/** The configured port of a listener; the bound one when configured as 0 (tests). */
function portOf(config: Readonly<Config>, listeners: Listeners | undefined, name: ListenerName): number | undefined {
  const first = config.listen[name][0];
  const configured = first ? parseListenAddress(first)?.port : undefined;
  return configured === 0 ? listeners?.bound.find((b) => b.name === name)?.port : configured;
}
