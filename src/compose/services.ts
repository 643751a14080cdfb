/**
 * Builds the store and the services from the config, each given its slice and its collaborators:
 * the part of the composition root that knows every service.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { parseRelay } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import { loadOrCreateSecret } from '../lib/secret.js';
import { createResolver } from '../mail/dns/resolver.js';
import { createTlsaLookup } from '../mail/dns/tlsa.js';
import { Acceptance } from '../services/acceptance/index.js';
import { Administration } from '../services/admin/index.js';
import { HeldMail } from '../services/admin/held.js';
import { Metrics } from '../services/metrics/index.js';
import type { RecentLog } from '../lib/recent-log.js';
import { Operations } from '../services/admin/operations.js';
import { SelfService } from '../services/admin/self.js';
import { AdminSessions, SESSION_LIFETIME_MS } from '../services/admin/sessions.js';
import { MailSessions } from '../services/webmail/sessions.js';
import { recordsFor } from '../services/doctor/records.js';
import { domainDoctor, recordInputs } from './records.js';
import { Auth } from '../services/auth/index.js';
import { argon2Passwords } from '../services/auth/password.js';
import { Delivery } from '../services/delivery/index.js';
import { Directory } from '../services/directory/index.js';
import { Dkim } from '../services/dkim/index.js';
import { Classifier } from '../services/filters/classifier/index.js';
import { Greylist } from '../services/filters/greylist.js';
import { ContentFilter, createBuiltinRules } from '../services/filters/index.js';
import { Rspamd, rspamdCheck } from '../services/filters/rspamd.js';
import { Spamd, spamdCheck } from '../services/filters/spamd.js';
import { Mailboxes } from '../services/mailboxes/index.js';
import { EmailViews } from '../services/mailboxes/emails.js';
import { Submitter } from '../services/acceptance/submit.js';
import { ScheduledSubmissions } from '../services/acceptance/scheduled.js';
import { PushSubscriptions } from '../services/push/index.js';
import { Identities } from '../services/identities/index.js';
import { Outbound } from '../services/outbound/index.js';
import { Quarantine } from '../services/quarantine/index.js';
import { MtaSts } from '../services/outbound/mta-sts.js';
import { SenderAuth } from '../services/sender-auth/index.js';
import { SieveScripts, type SieveLimits } from '../services/sieve/index.js';
import { Acme } from '../services/tls/acme.js';
import { ChallengeStore } from '../services/tls/challenges.js';
import { CertificateRegistry } from '../services/tls/registry.js';
import type { Store } from '../store/index.js';
import { openConfiguredStore } from './store.js';

export type Resolve = ReturnType<typeof createResolver>;

/** Days of hourly dashboard counts kept (the 30-day chart and a day to spare). */
const METRICS_KEEP_DAYS = 31;

export interface Services {
  store: Store;
  resolve: Resolve;
  dkim: Dkim;
  directory: Directory;
  tls: CertificateRegistry;
  challenges: ChallengeStore;
  auth: Auth;
  sieve: SieveScripts;
  delivery: Delivery;
  outbound: Outbound;
  acceptance: Acceptance;
  mailboxes: Mailboxes;
  /** An account's mail as JMAP names it (emails across mailboxes, threads, changes). */
  emailViews: EmailViews;
  /** Submissions that do not come over SMTP (JMAP). */
  submitter: Submitter;
  /** JMAP submissions that wait for their send time. */
  scheduledSubmissions: ScheduledSubmissions;
  /** JMAP push subscriptions: account changes POSTed to the URLs clients named. */
  push: PushSubscriptions;
  /** The addresses an account sends as, with names and signatures (JMAP Identity). */
  identities: Identities;
  quarantine: Quarantine;
  greylist: Greylist | undefined;
  administration: Administration;
  operations: Operations;
  self: SelfService;
  adminSessions: AdminSessions;
  /** Webmail sign-ins ([webmail]). */
  mailSessions: MailSessions;
  heldMail: HeldMail;
  metrics: Metrics;
}

/** [managesieve] limits as the Sieve service takes them. */
export function sieveLimits(config: Readonly<Config>): SieveLimits {
  return {
    maxScriptBytes: config.managesieve.max_script_size,
    maxScripts: config.managesieve.max_scripts,
    maxRedirects: config.managesieve.max_redirects,
  };
}

export async function buildServices(
  config: Readonly<Config>,
  log: Logger,
  options: { recentLog?: RecentLog } = {},
): Promise<Services> {
  const store = await openConfiguredStore(config);
  const resolve = createResolver(config.dns.resolvers);
  const dkim = new Dkim({ store, dataDir: config.data_dir, resolve, log: log.child({ component: 'dkim' }) });
  const metrics = new Metrics({ store, log, keepDays: METRICS_KEEP_DAYS });
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
    reloadIntervalMs: config.tls.reload_interval,
    expiryWarningMs: config.tls.expiry_warning,
    log: log.child({ component: 'tls' }),
  });
  const auth = new Auth({
    store,
    log: log.child({ component: 'auth' }),
    throttle: {
      failureDelayMs: config.auth.failure_delay,
      maxFailures: config.auth.max_failures,
      lockoutMs: config.auth.lockout,
      ipv6Prefix: config.limits.ipv6_prefix,
    },
  });
  const sieve = new SieveScripts({ store, log: log.child({ component: 'sieve' }), limits: sieveLimits(config) });
  let outbound: Outbound | undefined;
  const delivery = createDelivery(config, { store, directory, sieve, dkim, log, onQueued: () => outbound?.wake() });
  outbound = createOutbound(config, {
    store,
    log: log.child({ component: 'outbound' }),
    resolve,
    delivery,
    dkim,
    metrics,
  });
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
  const classifier = createClassifier(config, store, log);
  const filter = createFilter(config, { store, resolve, directory, classifier, log });
  const acceptance = new Acceptance({
    hostname: config.hostname,
    directory,
    delivery,
    dkim,
    senderAuth,
    filter,
    metrics,
  });
  const mailboxes = new Mailboxes({
    store,
    log: log.child({ component: 'mailboxes' }),
    onUserSorted: classifier.userSorted,
  });
  const greylist = createGreylist(config, store, log);
  const quarantine = new Quarantine({ store, delivery, log: log.child({ component: 'quarantine' }) });
  const challenges = new ChallengeStore(config.data_dir);
  const submitter = new Submitter({
    acceptance,
    delivery,
    directory,
    hostname: config.hostname,
    maxMessageBytes: config.limits.max_message_size,
  });
  const core = { store, resolve, dkim, directory, tls, challenges, auth, sieve, delivery, outbound };
  return {
    ...core,
    acceptance,
    mailboxes,
    ...jmapServices(config, { store, submitter, directory, log }),
    quarantine,
    greylist,
    metrics,
    ...adminServices(config, { ...core, quarantine, metrics, log, ...options }),
  };
}

/** What JMAP runs on besides the mailboxes: account-wide views, the submitter, identities, delayed submissions, push subscriptions. */
function jmapServices(
  config: Readonly<Config>,
  deps: { store: Store; submitter: Submitter; directory: Directory; log: Logger },
): Pick<Services, 'emailViews' | 'submitter' | 'scheduledSubmissions' | 'push' | 'identities'> {
  const { store, submitter, directory, log } = deps;
  const emailViews = new EmailViews({ store });
  return {
    emailViews,
    submitter,
    identities: new Identities({ store, directory }),
    scheduledSubmissions: new ScheduledSubmissions({ store, submitter, log: log.child({ component: 'submissions' }) }),
    push: new PushSubscriptions({
      store,
      state: (accountId) => emailViews.state(accountId),
      log: log.child({ component: 'push' }),
      allowPrivate: config.jmap.push_private_addresses,
      ca: config.outbound.ca_file ? [readFileSync(config.outbound.ca_file, 'utf8')] : [],
    }),
  };
}

/** What the admin API and UI run on: administration, operations, self-service, sessions, the quarantine. */
function adminServices(
  config: Readonly<Config>,
  deps: {
    store: Store;
    resolve: Resolve;
    directory: Directory;
    dkim: Dkim;
    auth: Auth;
    sieve: SieveScripts;
    quarantine: Quarantine;
    metrics: Metrics;
    tls: CertificateRegistry;
    recentLog?: RecentLog | undefined;
    log: Logger;
  },
): Pick<Services, 'administration' | 'operations' | 'self' | 'adminSessions' | 'mailSessions' | 'heldMail'> {
  const { store, resolve, directory, dkim, auth, sieve, quarantine, metrics, tls, log } = deps;
  return {
    administration: new Administration({ store, directory, passwords: argon2Passwords, log }),
    self: new SelfService({ store, passwords: argon2Passwords, sieve, log }),
    adminSessions: new AdminSessions({
      store,
      authenticate: (user, password, context, options) => auth.authenticateAdmin(user, password, context, options),
      lifetimeMs: SESSION_LIFETIME_MS,
      hostname: config.hostname,
      log,
    }),
    mailSessions: new MailSessions({
      store,
      authenticate: (user, password, context) => auth.authenticate(user, password, context),
      idleMs: config.webmail.session_idle,
      maxMs: config.webmail.session_max,
      log,
    }),
    operations: new Operations({
      store,
      dkim,
      metrics,
      records: (domain, keys) => recordsFor(recordInputs(config, domain, keys, config.dns.public_addresses)),
      certificates: () => tls.list(),
      doctor: domainDoctor(config, { store, resolve, certificateNames: () => tls.list().map((c) => c.names) }),
      recentLog: deps.recentLog,
      hostname: config.hostname,
      log,
    }),
    heldMail: new HeldMail({ store, quarantine }),
  };
}

/** The content filter from `[filter]`: the built-in rules and the engines configured, per-domain thresholds, the lists. */
export function createFilter(
  config: Readonly<Config>,
  deps: { store: Store; resolve: Resolve; directory: Directory; classifier: Classifier; log: Logger },
): ContentFilter {
  const { store, resolve, directory, classifier, log } = deps;
  const f = config.filter;
  return new ContentFilter({
    hostname: config.hostname,
    log: log.child({ component: 'filter' }),
    checks: [
      createBuiltinRules({
        resolve,
        hostname: config.hostname,
        isHosted: async (name) => (await directory.hostedDomain(name)) !== undefined,
        blocklists: f.blocklists,
        log: log.child({ component: 'filter' }),
      }),
      classifier,
      ...(f.spamd ? [spamdCheck(new Spamd({ address: f.spamd, timeoutMs: f.spamd_timeout }))] : []),
      ...(f.rspamd ? [rspamdCheck(new Rspamd({ url: f.rspamd, timeoutMs: f.rspamd_timeout }))] : []),
    ],
    onVerdict: (input, score, symbols) => classifier.autolearn(input, score, symbols),
    settings: {
      clamd: f.clamd ? { address: f.clamd, timeoutMs: f.clamd_timeout } : undefined,
      onEngineFailure: f.on_engine_failure,
      junkScore: f.junk_score,
      rejectScore: f.reject_score,
      quarantineScore: f.quarantine_score,
      quarantineKeepMs: f.quarantine_keep,
      headerStyle: f.header_style,
      spamScoring: true,
      domains: Object.fromEntries(
        Object.entries(f.domains).map(([name, d]) => [
          name.toLowerCase(),
          {
            junkScore: d.junk_score,
            quarantineScore: d.quarantine_score,
            rejectScore: d.reject_score,
            spamScoring: d.spam_scoring,
          },
        ]),
      ),
      scores: f.scores,
    },
    lists: store.filterLists,
  });
}

/** Greylisting from `[filter.greylist]`; undefined when it is off. */
function createGreylist(config: Readonly<Config>, store: Store, log: Logger): Greylist | undefined {
  const g = config.filter.greylist;
  return g.enabled
    ? new Greylist({
        store,
        log: log.child({ component: 'greylist' }),
        settings: {
          delayMs: g.delay,
          retryWindowMs: g.retry_window,
          autoAllowAfter: g.auto_allow_after,
          ipv6Prefix: config.limits.ipv6_prefix,
        },
      })
    : undefined;
}

/** Local delivery as the server and the CLI (quarantine release) run it, with Sieve and DKIM-signed replies. */
export function createDelivery(
  config: Readonly<Config>,
  deps: { store: Store; directory: Directory; sieve: SieveScripts; dkim: Dkim; log: Logger; onQueued?: () => void },
): Delivery {
  return new Delivery({
    store: deps.store,
    directory: deps.directory,
    log: deps.log.child({ component: 'delivery' }),
    maxReceivedHeaders: config.smtp.max_received_headers,
    srsSecret: loadOrCreateSecret(path.join(config.data_dir, 'srs.secret')),
    onQueued: deps.onQueued,
    sieve: deps.sieve,
    hostname: config.hostname,
    sign: (content, domain) => deps.dkim.sign(content, domain),
  });
}

/** The learning classifier from `[filter.classifier]`, its state in the store. */
export function createClassifier(config: Readonly<Config>, store: Store, log: Logger): Classifier {
  const c = config.filter.classifier;
  return new Classifier({
    repo: store.classifier,
    blobs: store.blobs,
    log: log.child({ component: 'classifier' }),
    settings: {
      enabled: c.enabled,
      junkScore: config.filter.junk_score,
      minTrained: c.min_trained,
      maxTokens: c.max_tokens,
      autolearnSpamScore: c.autolearn_spam_score,
      autolearnHamScore: c.autolearn_ham_score,
    },
  });
}

/** The certificate manager from `[acme]`, writing into the certbot directory the registry reads. */
export function createAcme(
  config: Readonly<Config>,
  deps: { directory: Directory; resolve: Resolve; challenges: ChallengeStore; tls?: CertificateRegistry; log: Logger },
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
      renewBeforeMs: a.renew_before,
      checkIntervalMs: a.check_interval,
      retryMinMs: a.retry_min,
      retryMaxMs: a.retry_max,
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

/** The outbound queue runner, from `[outbound]`; notifications it writes go through local delivery. */
function createOutbound(
  config: Readonly<Config>,
  deps: { store: Store; log: Logger; resolve: Resolve; delivery: Delivery; dkim: Dkim; metrics: Metrics },
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
      retryMinMs: o.retry_min,
      retryMaxMs: o.retry_max,
      lifetimeMs: o.lifetime,
      delayWarningMs: o.delay_warning,
      leaseMs: o.lease,
      connectTimeoutMs: o.connect_timeout,
      commandTimeoutMs: o.command_timeout,
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
      metrics: deps.metrics,
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
