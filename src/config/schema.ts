/**
 * The one configuration schema (postern.toml): types, defaults and a description on every field.
 * TOML keys are snake_case as admins write them; the parsed object keeps those names.
 * Domains, accounts, aliases, keys and scripts live in the store, not here.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, listenList, parseListenAddress, size } from './fields.js';
import { FilterSchema } from './filter.js';
import { parseRelay } from './relay.js';

export { parseRelay, type RelayTarget, type RelayTls } from './relay.js';
export { FilterSchema } from './filter.js';

export { type Bytes, type ListenAddress, type Milliseconds, parseListenAddress } from './fields.js';

const hostName = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/, {
    message: 'is not a host name (write the server\'s DNS name, such as "mail.example.com")',
  });

export const ListenSchema = z
  .strictObject({
    smtp: listenList(['0.0.0.0:25']).describe('MX: mail from other servers (STARTTLS offered)'),
    submission: listenList(['0.0.0.0:587']).describe('Submission with STARTTLS then AUTH (RFC 6409)'),
    submissions: listenList(['0.0.0.0:465']).describe('Submission over implicit TLS (RFC 8314)'),
    lmtp: listenList(['127.0.0.1:24']).describe('LMTP for an existing MTA (RFC 2033); keep it on loopback'),
    imap: listenList(['0.0.0.0:143']).describe('IMAP with STARTTLS'),
    imaps: listenList(['0.0.0.0:993']).describe('IMAP over implicit TLS'),
    pop3: listenList(['0.0.0.0:110']).describe('POP3 with STLS'),
    pop3s: listenList(['0.0.0.0:995']).describe('POP3 over implicit TLS'),
    managesieve: listenList(['0.0.0.0:4190']).describe('ManageSieve (RFC 5804)'),
    http: listenList(['0.0.0.0:80']).describe('HTTP: ACME challenges and redirects to HTTPS'),
    https: listenList(['0.0.0.0:443']).describe('HTTPS: webmail, admin, autoconfig, MTA-STS'),
  })
  .prefault({});

export const TlsCertificateSchema = z.strictObject({
  names: z
    .array(hostName.or(z.string().regex(/^\*\.[A-Za-z0-9.-]+$/)))
    .optional()
    .describe("Names served; default: the certificate's own names"),
  key: z.string().min(1).describe('Private key file (PEM)'),
  chain: z.string().min(1).describe('Certificate chain file (PEM), leaf first'),
});

export const TlsSchema = z
  .strictObject({
    certbot_dir: z
      .string()
      .default('/etc/letsencrypt')
      .describe('certbot layout: live/<name>/privkey.pem + fullchain.pem'),
    certificate: z.array(TlsCertificateSchema).default([]).describe('Certificates outside the certbot layout'),
    reload_interval: duration('30s').describe('How often certificate files are checked for changes'),
    expiry_warning: duration('14d').describe('Warn about certificates that expire within this long'),
    allow_plaintext_auth: z
      .boolean()
      .default(false)
      .describe('Allow passwords over connections without TLS (not recommended)'),
  })
  .prefault({});

export const AcmeSchema = z
  .strictObject({
    directory: z.url().describe('ACME directory URL'),
    email: z.email().describe('Contact address for the ACME account'),
    challenge: z
      .enum(['http-01', 'tls-alpn-01'])
      .default('http-01')
      .describe('Challenge type: http-01 (port 80) or tls-alpn-01 (port 443)'),
    subdomains: z
      .array(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i, { message: 'is not a DNS label' }))
      .default(['mail', 'mta-sts', 'autoconfig', 'webmail'])
      .describe('Names of each hosted domain D on its certificate: "mail" → mail.D'),
    group: z
      .enum(['domain', 'shared'])
      .default('domain')
      .describe('"domain": one certificate per domain; "shared": certificates of up to 100 names for all domains'),
    key_type: z.enum(['ecdsa', 'rsa']).default('ecdsa').describe('Certificate key: ECDSA P-256 or RSA 2048'),
    renew_before: duration('30d').describe(
      'Renew this long before expiry (or at a third of the lifetime left, if shorter)',
    ),
    check_interval: duration('12h').describe('How often certificates are checked for renewal'),
    retry_min: duration('5m').describe('First retry after a failed order; doubles each time'),
    retry_max: duration('1d').describe('Longest wait between retries of a failed order'),
    eab_kid: z.string().default('').describe('External Account Binding key id (CAs that require one)'),
    eab_hmac_key: z.string().default('').describe('External Account Binding HMAC key (base64url)'),
    ca_file: z
      .string()
      .default('')
      .describe("Extra CA certificates (PEM) trusted for the ACME server's HTTPS (private CAs)"),
  })
  .refine((a) => (a.eab_kid === '') === (a.eab_hmac_key === ''), {
    message: 'eab_kid and eab_hmac_key go together',
    path: ['eab_kid'],
  });

export const HttpSchema = z
  .strictObject({
    hsts_max_age: duration('365d').describe('Strict-Transport-Security max-age on HTTPS answers ("0s" = no header)'),
    mta_sts_mode: z
      .enum(['enforce', 'testing', 'none'])
      .default('testing')
      .describe('Mode of the MTA-STS policy served for hosted domains (RFC 8461 §3.2)'),
    mta_sts_max_age: duration('7d').describe('max_age of the served MTA-STS policy'),
  })
  .prefault({});

export const DnsSchema = z
  .strictObject({
    resolvers: z
      .array(
        z
          .string()
          .refine((s) => parseListenAddress(s) !== undefined || isIP(s) !== 0, { message: 'is not "ip" or "ip:port"' }),
      )
      .default([])
      .describe('DNS resolvers, e.g. ["127.0.0.1:5353"]; empty = system resolvers'),
    public_addresses: z
      .array(z.string().refine((s) => isIP(s) !== 0, { message: 'is not an IP address' }))
      .default([])
      .describe('Public IPv4/IPv6 addresses of this server, for the A/AAAA, SPF and PTR records "postern dns" prints'),
  })
  .prefault({});

export const DkimSchema = z
  .strictObject({
    auto_generate: z.boolean().default(true).describe('Give every new domain a DKIM key'),
    algorithm: z.enum(['rsa2048', 'rsa4096', 'ed25519']).default('rsa2048').describe('Algorithm of generated keys'),
  })
  .prefault({});

export const AuthenticationSchema = z
  .strictObject({
    reject_dmarc_failures: z
      .boolean()
      .default(true)
      .describe('Refuse (550 5.7.1) mail failing DMARC of a p=reject domain'),
    quarantine_to_junk: z
      .boolean()
      .default(true)
      .describe('Deliver mail failing DMARC of a p=quarantine domain to Junk'),
    reject_spf_fail: z.boolean().default(false).describe('Refuse mail whose SPF result is fail (-all)'),
  })
  .prefault({});

/**
 * "host:port", "smtp://[user:pass@]host[:port]" (STARTTLS) or "smtps://…" (implicit TLS), with an
 * optional "?tls=required|may|none" (Postfix's smtp_tls_security_level: encrypt, may, none).
 */
const relayUrl = z.string().refine((s) => s === '' || parseRelay(s) !== undefined, {
  message:
    'is not "host:port", "smtp://user:pass@host:587" or "smtps://host:465", optionally with "?tls=required", "?tls=may" or "?tls=none" (not with smtps://)',
});

export const OutboundSchema = z
  .strictObject({
    smarthost: relayUrl
      .default('')
      .describe(
        'Relay all remote mail through this host ("smtp://user:pass@host:587", "smtps://host:465"); "?tls=required|may|none" sets STARTTLS (default: required when a password is sent or the host is not loopback, else may); empty = MX delivery',
      ),
    sender_smarthost: z
      .record(z.string(), relayUrl)
      .default({})
      .describe('Per sender domain relay, e.g. { "example.com" = "smtps://u:p@relay:465" }'),
    helo_name: z.string().default('').describe('EHLO name for outgoing connections; default: hostname'),
    source_address: z
      .string()
      .refine((s) => s === '' || isIP(s) !== 0, { message: 'is not an IP address' })
      .default('')
      .describe('Local IP outgoing connections come from; default: chosen by the system'),
    connections_per_domain: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(10)
      .describe('Parallel connections to one destination domain'),
    max_connections: z.number().int().min(1).max(10_000).default(100).describe('Parallel outgoing connections in all'),
    messages_per_connection: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe('Messages sent over one connection before it is closed'),
    retry_min: duration('5m').describe('First retry after a temporary failure; doubles each time'),
    retry_max: duration('4h').describe('Longest wait between retries'),
    lifetime: duration('5d').describe('A message still undelivered this long after it was queued bounces'),
    delay_warning: duration('4h').describe('Tell the sender a message is delayed after this long (0 = never)'),
    lease: duration('2m').describe('How long a claimed delivery stays with its process if that process dies'),
    connect_timeout: duration('30s').describe('Give up connecting to one MX host after this long'),
    command_timeout: duration('5m').describe('Give up waiting for a reply from a remote server after this long'),
    mta_sts: z.boolean().default(true).describe('Enforce MTA-STS policies (RFC 8461) of destination domains'),
    dane: z.boolean().default(true).describe('Enforce DANE TLSA records (RFC 7672) the resolver validated with DNSSEC'),
    ca_file: z
      .string()
      .default('')
      .describe("Extra CA certificates (PEM) trusted for outgoing TLS, e.g. a private relay's"),
    port: z.number().int().min(1).max(65535).default(25).describe('Remote SMTP port; change only in labs and tests'),
    mta_sts_port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(443)
      .describe('Port MTA-STS policies are fetched from; change only in labs and tests'),
  })
  .prefault({});

export const StoreSchema = z
  .strictObject({
    backend: z.enum(['sqlite', 'postgres']).default('sqlite').describe('"sqlite" (embedded) or "postgres"'),
    url: z.string().optional().describe('PostgreSQL connection URL (backend = "postgres")'),
    collect_interval: duration('10m').describe(
      'How often the content of expunged mail is removed from disk ("0s": never)',
    ),
    collect_after: duration('1h').describe(
      'Content is removed this long after its last message was expunged, so sessions reading it meanwhile still can',
    ),
  })
  .prefault({})
  // The PostgreSQL backend is planned, not built: refuse it here, so check-config says so before a start fails.
  .refine((s) => s.backend !== 'postgres', {
    message: 'is not available in this version (use backend = "sqlite")',
    path: ['backend'],
  });

export const LimitsSchema = z
  .strictObject({
    max_connections: z.number().int().positive().default(2000).describe('Open connections per listener'),
    max_connections_per_ip: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('Open connections per client IP (per IPv6 prefix), per listener'),
    ipv6_prefix: z
      .number()
      .int()
      .min(32)
      .max(128)
      .default(64)
      .describe(
        'IPv6 clients are counted per prefix of this length (connection limits, login throttling): one site usually holds a whole /64',
      ),
    login_timeout: duration('60s').describe(
      'Close an IMAP, POP3 or ManageSieve connection that has not logged in this long after connecting',
    ),
    shutdown_timeout: duration('10s').describe(
      'On SIGTERM, how long sessions and outbound deliveries in flight get to finish; a delivery cut off stays queued',
    ),
    tls_handshake_timeout: duration('30s').describe('Close a connection whose TLS handshake takes longer'),
    max_message_size: size('50MB').describe('Largest message accepted'),
  })
  .prefault({});

export const SmtpSchema = z
  .strictObject({
    max_recipients: z
      .number()
      .int()
      .min(100)
      .default(1000)
      .describe('Recipients per message (RFC 5321 §4.5.3.1.8: at least 100)'),
    idle_timeout: duration('5m').describe('Close an SMTP/LMTP connection idle this long'),
    auth_on_mx: z.boolean().default(false).describe('Offer AUTH on the MX port (25) too'),
    max_received_headers: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('More Received headers than this is a mail loop (554 5.4.6)'),
    max_refused_recipients: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe('Refused recipients on one connection before it is closed with 421 (Postfix: smtpd_hard_error_limit)'),
    refusal_delay: duration('1s').describe(
      'Delay before each refusal past half of max_refused_recipients (Postfix: smtpd_error_sleep_time)',
    ),
    max_refused_recipients_per_ip: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe(
        'Refused recipients from one IP (IPv6 prefix) within refused_recipients_window before its RCPTs get 421 (unauthenticated clients)',
      ),
    refused_recipients_window: duration('1h').describe('The window max_refused_recipients_per_ip is counted in'),
  })
  .prefault({});

export const ImapSchema = z
  .strictObject({
    idle_timeout: duration('30m').describe(
      'Log out an IMAP client silent this long, IDLE included (RFC 9051 §5.4: at least 30m)',
    ),
  })
  .prefault({});

export const JmapSchema = z
  .strictObject({
    push_private_addresses: z
      .boolean()
      .default(false)
      .describe(
        'Let JMAP push subscriptions POST to loopback and private addresses (labs and tests only: a client could make the server reach its own network)',
      ),
  })
  .prefault({});

export const WebmailSchema = z
  .strictObject({
    session_idle: duration('30m').describe('A webmail session unused this long ends (Roundcube: session_lifetime)'),
    session_max: duration('12h').describe('A webmail session ends this long after sign-in, used or not'),
  })
  .prefault({});

/** Invalid commands in a row before a POP3 or ManageSieve connection is closed. */
const maxBadCommands = z
  .number()
  .int()
  .min(1)
  .max(1000)
  .default(10)
  .describe('Invalid commands in a row before the connection is closed');

export const Pop3Schema = z
  .strictObject({
    idle_timeout: duration('10m').describe('Log out a POP3 client silent this long (RFC 1939 §3: at least 10m)'),
    lock_takeover_after: duration('30s').describe(
      'A new login takes the maildrop over from a session of the same account silent this long (a dropped connection), which ends without deleting anything; until then the login gets [IN-USE]',
    ),
    max_bad_commands: maxBadCommands,
  })
  .prefault({});

export const ManageSieveSchema = z
  .strictObject({
    idle_timeout: duration('30m').describe('Log out a ManageSieve client silent this long (as Dovecot)'),
    max_script_size: size('128KB').describe('Largest Sieve script (Pigeonhole: sieve_max_script_size)'),
    max_scripts: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(64)
      .describe('Scripts per account (Pigeonhole: sieve_quota_max_scripts)'),
    max_redirects: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(4)
      .describe('Redirects one script may make per message (Pigeonhole: sieve_max_redirects)'),
    max_bad_commands: maxBadCommands,
  })
  .prefault({});

export const AuthSchema = z
  .strictObject({
    failure_delay: duration('1s').describe('Delay added to each failed login, growing with repeated failures'),
    max_failures: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('Failed logins per IP or account before a temporary lockout'),
    lockout: duration('15m').describe('How long a lockout lasts (and the window failures are counted in)'),
  })
  .prefault({});

export const LogSchema = z
  .strictObject({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
      .default('info')
      .describe('Lowest level written'),
  })
  .prefault({});

export const ConfigSchema = z.strictObject({
  hostname: hostName.describe('MX host name; the default certificate name and the SMTP greeting'),
  data_dir: z.string().min(1).default('/var/lib/postern').describe('Data directory: database, messages, keys'),
  listen: ListenSchema,
  tls: TlsSchema,
  acme: AcmeSchema.optional(),
  http: HttpSchema,
  dns: DnsSchema,
  dkim: DkimSchema,
  authentication: AuthenticationSchema,
  outbound: OutboundSchema,
  store: StoreSchema,
  limits: LimitsSchema,
  smtp: SmtpSchema,
  imap: ImapSchema,
  pop3: Pop3Schema,
  managesieve: ManageSieveSchema,
  jmap: JmapSchema,
  webmail: WebmailSchema,
  filter: FilterSchema,
  auth: AuthSchema,
  log: LogSchema,
});

export type Config = z.output<typeof ConfigSchema>;
export type ListenConfig = Config['listen'];
export type TlsConfig = Config['tls'];
export type LimitsConfig = Config['limits'];
export type SmtpConfig = Config['smtp'];
export type AuthConfig = Config['auth'];
export type ListenerName = keyof ListenConfig;
