/**
 * [filter] of postern.toml: the content filter run at the end of DATA (virus scan, spam score and the
 * action it leads to), its engines (clamd, spamd, rspamd), the built-in rules' weights and DNS
 * blocklists, per-domain thresholds, greylisting at RCPT, the learning classifier and the quarantine.
 */
import { z } from 'zod';
import { duration, parseListenAddress } from './fields.js';

/** An engine's address: "host:port" or an absolute unix socket path; empty: not used. */
const engineAddress = (example: string) =>
  z
    .string()
    .refine(
      (s) => s === '' || s.startsWith('/') || parseListenAddress(s) !== undefined || /^[A-Za-z0-9.-]+:\d{1,5}$/.test(s),
      { message: `is not "host:port" or an absolute socket path (write ${example})` },
    );

const httpUrl = z.string().refine(
  (s) => {
    if (s === '') return true;
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'is not an http:// or https:// URL (write "http://127.0.0.1:11333")' },
);

const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/, {
    message: 'is not a domain name',
  });

/** A symbol name as rules report it: SpamAssassin style, upper case. */
const symbolName = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]*$/, { message: 'is not a rule name (upper case, as MISSING_DATE)' });

const thresholds = {
  junk_score: z.number().describe('Spam score from which mail is filed to Junk (SpamAssassin: required_score)'),
  quarantine_score: z
    .number()
    .describe('Spam score from which mail is held in quarantine instead of delivered; unset = no quarantine'),
  reject_score: z.number().describe('Spam score from which mail is refused with 550 5.7.1'),
};

/** Thresholds a hosted domain sets for itself (by recipient domain), over the server-wide ones. */
const DomainPolicySchema = z.strictObject({
  junk_score: thresholds.junk_score.optional(),
  quarantine_score: thresholds.quarantine_score.optional(),
  reject_score: thresholds.reject_score.optional(),
  spam_scoring: z.boolean().optional().describe('false: mail to this domain is only virus-scanned'),
});

const BlocklistSchema = z.strictObject({
  zone: domainName.describe('The DNS zone asked, e.g. "zen.spamhaus.org"'),
  kind: z
    .enum(['ip', 'domain', 'uri'])
    .default('ip')
    .describe(
      '"ip": the client address (DNSBL); "domain": the sender and From domains (RHSBL); "uri": domains of links in the body (URIBL)',
    ),
  score: z.number().default(3).describe('Added to the spam score on a listing'),
});

const GreylistSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Greylist strangers at RCPT TO with 451 4.7.1, as postgrey does'),
    delay: duration('5m').describe('How long a new (client network, sender, recipient) triplet is refused'),
    retry_window: duration('2d').describe('A retry later than this after the first attempt starts over'),
    auto_allow_after: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe('A client network that passed this many times is no longer greylisted (0 = never)'),
    keep: duration('35d').describe('Triplets and networks not seen for this long are forgotten'),
  })
  .prefault({});

const ClassifierSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('The built-in statistical classifier, trained by Junk moves'),
    min_trained: z
      .number()
      .int()
      .min(0)
      .default(20)
      .describe('Spam and ham each that must be learnt before the classifier scores'),
    max_tokens: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe('Features kept per account (and globally); the least used are dropped beyond it'),
    autolearn_spam_score: z
      .number()
      .default(12)
      .describe('Learn as spam mail whose score without the classifier is at least this'),
    autolearn_ham_score: z
      .number()
      .default(-1)
      .describe('Learn as ham mail whose score without the classifier is at most this'),
  })
  .prefault({});

export const FilterSchema = z
  .strictObject({
    clamd: engineAddress('"127.0.0.1:3310" or "/run/clamav/clamd.ctl"')
      .default('')
      .describe(
        'ClamAV clamd to scan every message with ("127.0.0.1:3310", "/run/clamav/clamd.ctl"); empty = no virus scan',
      ),
    clamd_timeout: duration('30s').describe('A scan not answered within this long counts as a scanner failure'),
    spamd: engineAddress('"127.0.0.1:783" or "/run/spamd.sock"')
      .default('')
      .describe('SpamAssassin spamd asked for its score (SPAMC protocol); empty = not used'),
    spamd_timeout: duration('30s').describe('A spamd check not answered within this long counts as a failure'),
    rspamd: httpUrl
      .default('')
      .describe('rspamd\'s controller or normal worker ("http://127.0.0.1:11333"); empty = not used'),
    rspamd_timeout: duration('30s').describe('An rspamd check not answered within this long counts as a failure'),
    on_engine_failure: z
      .enum(['tempfail', 'accept'])
      .default('tempfail')
      .describe(
        'When an engine is down or hangs: "tempfail" (451 4.7.1, the sender retries) or "accept" with a header saying what was not checked',
      ),
    junk_score: thresholds.junk_score.default(5),
    quarantine_score: thresholds.quarantine_score.optional(),
    reject_score: thresholds.reject_score.default(15),
    quarantine_keep: duration('30d').describe('How long quarantined mail is kept before it is deleted'),
    header_style: z
      .enum(['spamassassin', 'rspamd'])
      .default('spamassassin')
      .describe(
        '"spamassassin": X-Spam-Status, X-Spam-Score, X-Spam-Symbols; "rspamd": X-Spamd-Result, X-Rspamd-Score',
      ),
    scores: z
      .record(symbolName, z.number())
      .default({})
      .describe('Weights of the built-in rules by name, over their defaults (0 turns a rule off)'),
    blocklists: z.array(BlocklistSchema).default([]).describe('DNS blocklists asked through [dns] resolvers'),
    domains: z
      .record(domainName, DomainPolicySchema)
      .default({})
      .describe('Per hosted domain (by recipient): thresholds and whether spam is scored'),
    greylist: GreylistSchema,
    classifier: ClassifierSchema,
  })
  .prefault({})
  .superRefine((f, ctx) => {
    const check = (where: (string | number)[], t: z.infer<typeof DomainPolicySchema>) => {
      const junk = t.junk_score ?? f.junk_score;
      const reject = t.reject_score ?? f.reject_score;
      const quarantine = t.quarantine_score ?? f.quarantine_score;
      if (reject < junk)
        ctx.addIssue({
          code: 'custom',
          message: 'reject_score must be at least junk_score',
          path: [...where, 'reject_score'],
        });
      if (quarantine !== undefined && (quarantine < junk || quarantine > reject))
        ctx.addIssue({
          code: 'custom',
          message: 'quarantine_score must lie between junk_score and reject_score',
          path: [...where, 'quarantine_score'],
        });
    };
    check([], f);
    for (const [name, t] of Object.entries(f.domains)) check(['domains', name], t);
  });

export type FilterConfig = z.output<typeof FilterSchema>;
