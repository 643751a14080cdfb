/**
 * Composition root: config → store → services → listeners. The only module that knows every layer.
 */
import type { Config, ListenerName } from './config/schema.js';
import { parseRelay } from './config/schema.js';
import { parseListenAddress } from './config/schema.js';
import path from 'node:path';
import type { Logger } from './lib/log.js';
import { loadOrCreateSecret } from './lib/secret.js';
import { parseDuration, parseSize } from './lib/units.js';
import { startListeners, type Listeners, type ListenerSpec } from './listeners/index.js';
import type { Connection, SessionFactory } from './protocols/shared/connection.js';
import { imapLimits, manageSieveLimits, pop3Limits } from './protocols/shared/limits.js';
import { ImapSession, type ImapDeps } from './protocols/imap/session.js';
import { UidSnapshots } from './protocols/imap/uid-snapshots.js';
import { MaildropLocks } from './protocols/pop3/maildrop-locks.js';
import { Pop3Session, type Pop3Deps } from './protocols/pop3/session.js';
import { ManageSieveSession, type ManageSieveDeps } from './protocols/managesieve/session.js';
import { SieveScripts, SIEVE_LIMITS } from './services/sieve/index.js';
import { RecipientGuard } from './protocols/smtp/recipient-guard.js';
import { smtpProtocol, type SmtpDeps } from './protocols/smtp/session.js';
import { Mailboxes } from './services/mailboxes/index.js';
import { Auth } from './services/auth/index.js';
import { Delivery } from './services/delivery/index.js';
import { Dkim } from './services/dkim/index.js';
import { Outbound } from './services/outbound/index.js';
import { MtaSts } from './services/outbound/mta-sts.js';
import { createTlsaLookup } from './mail/dns/tlsa.js';
import { readFileSync } from 'node:fs';
import { SenderAuth } from './services/sender-auth/index.js';
import { createResolver } from './mail/dns/resolver.js';
import { argon2Passwords } from './services/auth/password.js';
import { Directory } from './services/directory/index.js';
import { CertificateRegistry } from './services/tls/registry.js';
import { ChallengeStore } from './services/tls/challenges.js';
import { Acme } from './services/tls/acme.js';
import { httpProtocol } from './protocols/http/session.js';
import type { ClientEndpoints } from './protocols/http/client-config.js';
import type { TlsProvider } from './listeners/index.js';
import { openStore, type Store } from './store/index.js';

export interface Server {
  store: Store;
  directory: Directory;
  delivery: Delivery;
  outbound: Outbound;
  mailboxes: Mailboxes;
  sieve: SieveScripts;
  dkim: Dkim;
  tls: CertificateRegistry;
  /** Present when [acme] is configured. */
  acme: Acme | undefined;
  listeners: Listeners;
  /** Listeners configured but not started, with the reason. */
  skipped: Array<{ name: ListenerName; reason: string }>;
  stop(timeoutMs?: number): Promise<void>;
}

const DKIM_CHECK_MS = 10 * 60_000;
/** ManageSieve has no idle setting of its own; Dovecot's managesieve drops idle clients after 30 minutes. */
const MANAGESIEVE_IDLE_MS = 30 * 60_000;

const IMPLICIT_TLS: ReadonlySet<ListenerName> = new Set(['submissions', 'imaps', 'pop3s', 'https']);

export async function startServer(config: Readonly<Config>, log: Logger): Promise<Server> {
  const store = await openStore({ backend: config.store.backend, dataDir: config.data_dir, url: config.store.url });
  const resolve = createResolver(config.dns.resolvers);
  const dkim = new Dkim({ store, dataDir: config.data_dir, resolve, log: log.child({ component: 'dkim' }) });
  const directory = new Directory({
    store,
    passwords: argon2Passwords,
    log,
    onDomainAdded: dkim.autoGenerate(config.dkim),
  });
  const tls = new CertificateRegistry({
    hostname: config.hostname,
    dataDir: config.data_dir,
    certbotDir: config.tls.certbot_dir,
    certificates: config.tls.certificate,
    reloadIntervalMs: parseDuration(config.tls.reload_interval)!,
    expiryWarningMs: parseDuration(config.tls.expiry_warning)!,
    log: log.child({ component: 'tls' }),
  });
  await tls.start();
  const challenges = new ChallengeStore(config.data_dir);
  const tlsProvider: TlsProvider = {
    contextFor: (name) => tls.contextFor(name),
    sniCallback: tls.sniCallback,
    alpnChallenge: (name) => challenges.alpnContext(name),
  };

  const auth = new Auth({
    store,
    log: log.child({ component: 'auth' }),
    throttle: {
      failureDelayMs: parseDuration(config.auth.failure_delay)!,
      maxFailures: config.auth.max_failures,
      lockoutMs: parseDuration(config.auth.lockout)!,
      ipv6Prefix: config.limits.ipv6_prefix,
    },
  });
  const sieve = new SieveScripts({ store, log: log.child({ component: 'sieve' }), limits: SIEVE_LIMITS });
  let outbound: Outbound | undefined;
  const delivery = new Delivery({
    store,
    log: log.child({ component: 'delivery' }),
    maxReceivedHeaders: config.smtp.max_received_headers,
    srsSecret: loadOrCreateSecret(path.join(config.data_dir, 'srs.secret')),
    onQueued: () => outbound?.wake(),
    sieve,
    hostname: config.hostname,
    sign: (content, domain) => dkim.sign(content, domain),
  });
  outbound = createOutbound(config, { store, log: log.child({ component: 'outbound' }), resolve, delivery, dkim });

  const senderAuth = new SenderAuth({
    hostname: config.hostname,
    resolve,
    log,
    policy: {
      rejectDmarcFailures: config.authentication.reject_dmarc_failures,
      quarantineToJunk: config.authentication.quarantine_to_junk,
      rejectSpfFail: config.authentication.reject_spf_fail,
    },
  });
  // Content that expunges and finished queue entries left unreferenced is removed from disk.
  const collectMs = parseDuration(config.store.collect_interval)!;
  const releasedForMs = parseDuration(config.store.collect_after)!;
  let collecting: Promise<void> | undefined;
  const collector =
    collectMs > 0
      ? setInterval(() => {
          if (collecting) return;
          const started = Date.now();
          collecting = store
            .collectGarbage({ releasedForMs })
            .then(
              (r) =>
                void (
                  r.blobs + r.orphans > 0 &&
                  log.info(
                    {
                      component: 'store',
                      blobs: r.blobs,
                      bytes: r.bytes,
                      orphans: r.orphans,
                      ms: Date.now() - started,
                    },
                    'removed unreferenced content',
                  )
                ),
              (err: unknown) => log.warn({ component: 'store', err }, 'removing unreferenced content failed'),
            )
            .finally(() => (collecting = undefined));
        }, collectMs)
      : undefined;
  collector?.unref();
  // Rotated DKIM keys start signing once DNS shows them.
  const dkimTimer = setInterval(
    () => void dkim.promotePending().catch((err: unknown) => log.warn({ err }, 'DKIM key check failed')),
    DKIM_CHECK_MS,
  );
  dkimTimer.unref();

  const smtpDeps: SmtpDeps = {
    hostname: config.hostname,
    store,
    delivery,
    auth,
    dkim,
    senderAuth,
    tls,
    log,
    limits: {
      maxMessageBytes: parseSize(config.limits.max_message_size)!,
      maxRecipients: config.smtp.max_recipients,
      idleTimeoutMs: parseDuration(config.smtp.idle_timeout)!,
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
      authOnMx: config.smtp.auth_on_mx,
      maxRefusedRecipients: config.smtp.max_refused_recipients,
      refusalDelayMs: parseDuration(config.smtp.refusal_delay)!,
    },
    recipientGuard: new RecipientGuard({
      maxPerSource: config.smtp.max_refused_recipients_per_ip,
      windowMs: parseDuration(config.smtp.refused_recipients_window)!,
      ipv6Prefix: config.limits.ipv6_prefix,
    }),
  };
  const mailboxes = new Mailboxes({ store, log: log.child({ component: 'mailboxes' }) });
  const maxMessageBytes = parseSize(config.limits.max_message_size)!;
  const loginTimeoutMs = parseDuration(config.limits.login_timeout)!;
  const imapDeps: ImapDeps = {
    hostname: config.hostname,
    auth,
    mailboxes,
    changes: store.changes,
    log,
    uidSnapshots: new UidSnapshots(),
    limits: {
      ...imapLimits({ maxMessageBytes, loginTimeoutMs, idleTimeoutMs: parseDuration(config.imap.idle_timeout)! }),
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
    },
  };
  const imapFactory = (conn: Connection) => new ImapSession(conn, imapDeps);
  const imapBusy = '* BYE Too many connections, try again later\r\n';
  const pop3Deps: Pop3Deps = {
    hostname: config.hostname,
    auth,
    mailboxes,
    log,
    locks: new MaildropLocks(parseDuration(config.pop3.lock_takeover_after)!),
    limits: {
      ...pop3Limits({ loginTimeoutMs, idleTimeoutMs: parseDuration(config.pop3.idle_timeout)! }),
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
    },
  };
  const pop3Factory = (conn: Connection) => new Pop3Session(conn, pop3Deps);
  const manageSieveDeps: ManageSieveDeps = {
    hostname: config.hostname,
    auth,
    sieve,
    limits: {
      ...manageSieveLimits({
        loginTimeoutMs,
        idleTimeoutMs: MANAGESIEVE_IDLE_MS,
        maxScriptBytes: SIEVE_LIMITS.maxScriptBytes,
      }),
      allowPlaintextAuth: config.tls.allow_plaintext_auth,
    },
  };
  let listeners: Listeners | undefined;
  const httpFactory = httpProtocol({
    hostname: config.hostname,
    challenges,
    log,
    endpoints: () => clientEndpoints(config, listeners),
    hostedDomain: (name) => directory.hostedDomain(name),
    mtaSts: { mode: config.http.mta_sts_mode, maxAgeSeconds: parseDuration(config.http.mta_sts_max_age)! / 1000 },
    hstsMaxAgeSeconds: parseDuration(config.http.hsts_max_age)! / 1000,
    httpsPort: () => portOf(config, listeners, 'https'),
  });
  const smtpBusy = `421 4.7.0 ${config.hostname} Too many connections, try again later\r\n`;
  // Protocol sessions register here as they are implemented.
  const factories: Partial<
    Record<ListenerName, Pick<ListenerSpec, 'factory' | 'busyReply' | 'answersAcmeTlsAlpn' | 'alpnProtocols'>>
  > = {
    smtp: { factory: smtpProtocol('mx', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    submission: { factory: smtpProtocol('submission', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    submissions: { factory: smtpProtocol('submission', { isImplicitTls: true }, smtpDeps) },
    lmtp: { factory: smtpProtocol('lmtp', { isImplicitTls: false }, smtpDeps), busyReply: smtpBusy },
    imap: { factory: imapFactory, busyReply: imapBusy },
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

  const specs: ListenerSpec[] = [];
  const skipped: Server['skipped'] = [];
  for (const name of Object.keys(config.listen) as ListenerName[]) {
    const addresses = config.listen[name];
    if (addresses.length === 0) continue;
    const entry = factories[name];
    if (!entry) {
      skipped.push({ name, reason: 'protocol not available in this version' });
      continue;
    }
    for (const text of addresses) {
      const addr = parseListenAddress(text)!;
      specs.push({ name, host: addr.host, port: addr.port, isImplicitTls: IMPLICIT_TLS.has(name), ...entry });
    }
  }
  for (const s of skipped) log.warn({ listener: s.name, reason: s.reason }, 'listener not started');

  try {
    listeners = await startListeners(specs, {
      tls: tlsProvider,
      log,
      limits: {
        maxConnections: config.limits.max_connections,
        maxConnectionsPerIp: config.limits.max_connections_per_ip,
        ipv6Prefix: config.limits.ipv6_prefix,
        tlsHandshakeTimeoutMs: parseDuration(config.limits.tls_handshake_timeout)!,
        shutdownTimeoutMs: parseDuration(config.limits.shutdown_timeout)!,
      },
    });
  } catch (err) {
    tls.stop();
    await store.close();
    throw err;
  }
  outbound.start();
  const acme = config.acme
    ? createAcme(config, { directory, resolve, challenges, tls, log: log.child({ component: 'acme' }) })
    : undefined;
  if (acme && config.acme?.challenge === 'tls-alpn-01' && config.listen.https.length === 0) {
    log.warn({}, 'ACME tls-alpn-01 needs the https listener on port 443; orders will fail until [listen] https is set');
  }
  if (acme && config.acme?.challenge === 'http-01' && config.listen.http.length === 0) {
    log.warn({}, 'ACME http-01 needs the http listener on port 80; orders will fail until [listen] http is set');
  }
  acme?.start();

  return {
    store,
    directory,
    delivery,
    outbound,
    mailboxes,
    sieve,
    dkim,
    tls,
    acme,
    listeners,
    skipped,
    /**
     * Graceful stop within about `timeoutMs` ([limits] shutdown_timeout): sessions are told goodbye
     * and deliveries in flight get the same time, side by side; then both are cut off.
     */
    async stop(timeoutMs = parseDuration(config.limits.shutdown_timeout)!) {
      clearInterval(dkimTimer);
      clearInterval(collector);
      await collecting;
      await acme?.stop();
      await Promise.all([listeners.close(timeoutMs), outbound!.stop(timeoutMs)]);
      tls.stop();
      await store.close();
    },
  };
}

/** The certificate manager from `[acme]`, writing into the certbot directory the registry reads. */
export function createAcme(
  config: Readonly<Config>,
  deps: {
    directory: Directory;
    resolve: ReturnType<typeof createResolver>;
    challenges: ChallengeStore;
    tls?: CertificateRegistry;
    log: Logger;
  },
): Acme {
  const a = config.acme!;
  return new Acme(
    {
      directoryUrl: a.directory,
      email: a.email,
      challenge: a.challenge,
      hostname: config.hostname,
      subdomains: a.subdomains,
      group: a.group,
      keyType: a.key_type,
      renewBeforeMs: parseDuration(a.renew_before)!,
      checkIntervalMs: parseDuration(a.check_interval)!,
      retryMinMs: parseDuration(a.retry_min)!,
      retryMaxMs: parseDuration(a.retry_max)!,
      dataDir: config.data_dir,
      certbotDir: config.tls.certbot_dir,
      eab: a.eab_kid ? { kid: a.eab_kid, hmacKey: a.eab_hmac_key } : undefined,
      extraCa: a.ca_file ? [readFileSync(a.ca_file, 'utf8')] : [],
    },
    {
      domains: async () => (await deps.directory.listDomains()).map((d) => d.name),
      resolve: deps.resolve,
      challenges: deps.challenges,
      log: deps.log,
      onIssued: async () => deps.tls?.reload(),
    },
  );
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

/** The outbound queue runner, from `[outbound]`; notifications it writes go through local delivery. */
function createOutbound(
  config: Readonly<Config>,
  deps: { store: Store; log: Logger; resolve: ReturnType<typeof createResolver>; delivery: Delivery; dkim: Dkim },
): Outbound {
  const o = config.outbound;
  const extraCa = o.ca_file ? [readFileSync(o.ca_file, 'utf8')] : [];
  const { delivery, dkim } = deps;
  return new Outbound(
    {
      hostname: config.hostname,
      heloName: o.helo_name || config.hostname,
      sourceAddress: o.source_address,
      port: o.port,
      connectionsPerDomain: o.connections_per_domain,
      maxConnections: o.max_connections,
      messagesPerConnection: o.messages_per_connection,
      retryMinMs: parseDuration(o.retry_min)!,
      retryMaxMs: parseDuration(o.retry_max)!,
      lifetimeMs: parseDuration(o.lifetime)!,
      delayWarningMs: parseDuration(o.delay_warning)!,
      leaseMs: parseDuration(o.lease)!,
      connectTimeoutMs: parseDuration(o.connect_timeout)!,
      commandTimeoutMs: parseDuration(o.command_timeout)!,
      dane: o.dane,
      extraCa,
      smarthost: o.smarthost ? parseRelay(o.smarthost) : undefined,
      senderSmarthost: Object.fromEntries(
        Object.entries(o.sender_smarthost).map(([d, url]) => [d.toLowerCase(), parseRelay(url)!]),
      ),
    },
    {
      store: deps.store,
      log: deps.log,
      resolve: deps.resolve,
      tlsa: createTlsaLookup(config.dns.resolvers),
      mtaSts: o.mta_sts ? new MtaSts({ resolve: deps.resolve, port: o.mta_sts_port, extraCa }) : undefined,
      // Notifications are signed by the nearest hosted domain of our hostname that has a key.
      sign: async (content, host) => {
        for (let d = host; d.includes('.'); d = d.slice(d.indexOf('.') + 1)) {
          const keys = await dkim.list(d).catch(() => []);
          if (keys.some((k) => k.status === 'active')) return dkim.sign(content, d);
        }
        return content;
      },
      submit: (message) => delivery.submitGenerated(message),
    },
  );
}
