/**
 * The commented postern.toml that `postern init` writes. Every key of the schema appears here, in
 * three parts: how the server is reached (listeners, TLS, ACME, HTTP), how mail is checked and sent
 * (DNS, DKIM, authentication, outbound), and where it is kept and how much it may take (store, limits,
 * protocols, log). Only the head depends on the options.
 */

export interface InitOptions {
  hostname: string;
  dataDir: string;
}

export function renderConfig({ hostname, dataDir }: InitOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const head = `# Postern configuration. Domains, accounts and aliases live in the store:
# manage them with "postern domain|account|alias ...", not here.

hostname = ${q(hostname)}   # MX host name; default certificate name and SMTP greeting
data_dir = ${q(dataDir)}    # database, message files, keys (relative = next to this file)

`;
  return head + REACHING + MAIL + KEEPING;
}

/** [listen], [tls], [acme], [http]: the ports, certificates and web side. */
const REACHING = `[listen]                        # each a list of "address:port"; [] disables the listener
smtp        = ["0.0.0.0:25"]    # MX: mail from other servers (STARTTLS offered)
submission  = ["0.0.0.0:587"]   # clients send mail: STARTTLS, then AUTH
submissions = ["0.0.0.0:465"]   # clients send mail over implicit TLS
lmtp        = ["127.0.0.1:24"]  # for an existing Postfix: virtual_transport = lmtp:inet:127.0.0.1:24
imap        = ["0.0.0.0:143"]
imaps       = ["0.0.0.0:993"]
pop3        = ["0.0.0.0:110"]
pop3s       = ["0.0.0.0:995"]
managesieve = ["0.0.0.0:4190"]
http        = ["0.0.0.0:80"]    # ACME http-01 challenges, redirects to HTTPS
https       = ["0.0.0.0:443"]   # webmail, admin, autoconfig, MTA-STS policy

[tls]
certbot_dir = "/etc/letsencrypt"  # reads live/<name>/privkey.pem + fullchain.pem
reload_interval = "30s"           # renewed certificate files are picked up this often
expiry_warning = "14d"            # warn about certificates expiring sooner than this
allow_plaintext_auth = false      # passwords only over TLS
# Certificates kept elsewhere; names default to the certificate's own names:
# [[tls.certificate]]
# names = ["mail.example.org", "*.example.org"]
# key   = "/etc/ssl/private/example.org.key"
# chain = "/etc/ssl/certs/example.org.fullchain.pem"

# [acme]                          # automatic certificates (optional), written in certbot_dir's layout
# directory = "https://acme-v02.api.letsencrypt.org/directory"
# email = "postmaster@example.com"
# challenge = "http-01"           # or "tls-alpn-01" (port 443)
# subdomains = ["mail", "mta-sts", "autoconfig", "webmail"]   # names of each domain D on its certificate: mail.D, …
# group = "domain"                # one certificate per domain; "shared": up to 100 names per certificate
# key_type = "ecdsa"              # or "rsa"
# renew_before = "30d"            # or at a third of the lifetime left, if sooner
# check_interval = "12h"
# retry_min = "5m"                # a failed order is retried after this, doubling …
# retry_max = "1d"                # … up to this
# eab_kid = ""                    # External Account Binding, for CAs that require it
# eab_hmac_key = ""
# ca_file = ""                    # CA of a private ACME server's HTTPS

[http]
hsts_max_age = "365d"             # Strict-Transport-Security on HTTPS ("0s" = none)
mta_sts_mode = "testing"          # MTA-STS policy served for hosted domains: "testing", then "enforce"
mta_sts_max_age = "7d"

`;

/** [dns], [dkim], [authentication], [outbound]: checking mail that arrives, signing and sending mail that leaves. */
const MAIL = `[dns]
resolvers = []                    # e.g. ["127.0.0.1:5353"]; empty = system resolvers
public_addresses = []             # this server's public IPs, for "postern dns" (A/AAAA, SPF, PTR)

[dkim]
auto_generate = true              # every new domain gets a key ("postern dkim list")
algorithm = "rsa2048"             # or "rsa4096", "ed25519"

[authentication]                  # checks of mail arriving on port 25
reject_dmarc_failures = true      # DMARC p=reject failures: 550 5.7.1
quarantine_to_junk = true         # DMARC p=quarantine failures: delivered to Junk
reject_spf_fail = false           # SPF -all failures: 550 5.7.1

[outbound]
smarthost = ""                    # relay all remote mail: "smtp://user:pass@relay:587", "smtps://relay:465"; empty = MX delivery
                                  # STARTTLS: add "?tls=required|may|none" (default required with a password or a non-loopback relay)
sender_smarthost = {}             # per sender domain: { "example.com" = "smtps://user:pass@relay:465" }
helo_name = ""                    # EHLO name of outgoing connections (default: hostname; its PTR should match)
source_address = ""               # local IP outgoing connections come from (default: the system's choice)
connections_per_domain = 10       # parallel connections to one destination domain
max_connections = 100             # parallel outgoing connections in all
messages_per_connection = 100     # messages sent over one connection before it is closed
retry_min = "5m"                  # first retry after a temporary failure, doubling …
retry_max = "4h"                  # … up to this
lifetime = "5d"                   # undelivered after this long: bounce to the sender
delay_warning = "4h"              # tell the sender a message is delayed after this long ("0s" = never)
lease = "2m"                      # a dead process's claimed deliveries are taken over after this long
connect_timeout = "30s"           # per MX host
command_timeout = "5m"            # per reply from a remote server
mta_sts = true                    # enforce destinations' MTA-STS policies (RFC 8461)
dane = true                       # enforce DNSSEC-validated TLSA records (RFC 7672); needs a validating resolver
ca_file = ""                      # extra CA certificates (PEM) trusted for outgoing TLS
port = 25                         # remote SMTP port: change only in labs and tests
mta_sts_port = 443                # port MTA-STS policies are fetched from: labs and tests only

`;

/** [store], [limits], the protocol sections, [jmap], [auth], [log]: storage, bounds and logging. */
const KEEPING = `[store]
backend = "sqlite"                # the one backend so far; "postgres" (with url) is planned
# url = "postgres://postern@db.example.com/postern"
collect_interval = "10m"          # how often the content of expunged mail is removed from disk ("0s": never)
collect_after = "1h"              # ... this long after its last message was expunged

[limits]
max_connections = 2000            # open connections per listener
max_connections_per_ip = 50       # per client IP (IPv6: per prefix), per listener
ipv6_prefix = 64                  # IPv6 clients are counted per /64 (connections, login failures, refused recipients)
login_timeout = "60s"             # IMAP, POP3, ManageSieve: log in within this long of connecting
shutdown_timeout = "10s"          # on SIGTERM, sessions and deliveries get this long to finish
tls_handshake_timeout = "30s"
max_message_size = "50MB"

[smtp]
max_recipients = 1000             # per message
idle_timeout = "5m"
auth_on_mx = false                # AUTH is offered on submission (587, 465) only
max_received_headers = 50         # more is a mail loop: 554 5.4.6
max_refused_recipients = 20       # refused RCPTs on one connection, then 421 (Postfix: smtpd_hard_error_limit)
refusal_delay = "1s"              # each refusal past half of that waits this long (smtpd_error_sleep_time)
max_refused_recipients_per_ip = 100   # refused RCPTs from one IP (or IPv6 prefix) of unauthenticated clients …
refused_recipients_window = "1h"  # … within this window, then 421 for a while

[imap]
idle_timeout = "30m"              # RFC 9051 §5.4: at least 30 minutes

[pop3]
idle_timeout = "10m"              # RFC 1939 §3: at least 10 minutes
lock_takeover_after = "30s"       # a new login takes over a maildrop whose session is silent this long (nothing deleted)
max_bad_commands = 10             # invalid commands in a row, then the connection is closed

[filter]
clamd = ""                        # ClamAV's clamd, "127.0.0.1:3310" or "/run/clamav/clamd.ctl"; empty: no virus scan
clamd_timeout = "30s"
spamd = ""                        # SpamAssassin's spamd, "127.0.0.1:783" or a socket path; empty: not asked
spamd_timeout = "30s"
rspamd = ""                       # rspamd, "http://127.0.0.1:11333"; empty: not asked
rspamd_timeout = "30s"
on_engine_failure = "tempfail"    # engine down or hung: "tempfail" (451 4.7.1) or "accept" (marked unchecked)
junk_score = 5.0                  # spam score filed to Junk
# quarantine_score = 10.0         # spam score held in quarantine ("postern quarantine list"); unset: none
reject_score = 15.0               # spam score refused with 550 5.7.1
quarantine_keep = "30d"           # quarantined mail is deleted after this long
header_style = "spamassassin"     # X-Spam-Status/-Score/-Symbols; "rspamd": X-Spamd-Result, X-Rspamd-Score
scores = {}                       # rule weights by name, e.g. { MISSING_DATE = 2.0, HELO_IP_LITERAL = 0 }
blocklists = []                   # e.g. [{ zone = "zen.spamhaus.org", kind = "ip", score = 5 }]; kind: ip, domain, uri
domains = {}                      # per recipient domain, e.g. { "example.com" = { junk_score = 4.0, spam_scoring = true } }

[filter.greylist]                 # as postgrey: strangers' first attempt gets 451 4.7.1 at RCPT TO
enabled = false
delay = "5m"
retry_window = "2d"
auto_allow_after = 5              # a client network that passed this often is no longer greylisted
keep = "35d"

[filter.classifier]               # learns from Junk moves and "postern spam learn"
enabled = true
min_trained = 20                  # spam and ham each learnt before it scores
max_tokens = 1000000              # per account and globally
autolearn_spam_score = 12.0       # learnt as spam when the other rules score at least this
autolearn_ham_score = -1.0        # learnt as ham when the other rules score at most this

[managesieve]
idle_timeout = "30m"
max_script_size = "128KB"         # Pigeonhole: sieve_max_script_size
max_scripts = 64                  # per account (sieve_quota_max_scripts)
max_redirects = 4                 # per script run (sieve_max_redirects)
max_bad_commands = 10

[jmap]
push_private_addresses = false    # push subscriptions may POST to loopback and private addresses (labs and tests only)

[webmail]                         # https://webmail.<domain>/ and https://<hostname>/mail/
session_idle = "30m"              # a session unused this long ends
session_max = "12h"               # and every session this long after sign-in

[auth]
failure_delay = "1s"              # added to each failed login, growing with repeats
max_failures = 10                 # per IP (IPv6 prefix), then that source is locked out (454 4.7.0); an account is never locked
lockout = "15m"

[log]
level = "info"                    # trace, debug, info, warn, error
`;
