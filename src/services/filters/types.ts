/** The shapes the content filter works with: what a check sees of a message and what it reports. */
import type { HeaderField } from '../../mail/mime/headers.js';

/** One rule that hit: its name, its weight and why, as SpamAssassin and rspamd report their rules. */
export interface FilterSymbol {
  name: string;
  score: number;
  why: string;
}

/** What the sender-authentication stage found (port 25 only). */
export interface AuthFacts {
  spf: string;
  dmarc: string;
  /** DKIM results: each signature's domain and result ("pass", "fail", "neutral" …). */
  dkim: Array<{ domain: string; result: string }>;
  /** ARC chain validation ("pass", "fail", "none"). */
  arc: string;
}

export interface FilterInput {
  qid: string;
  /** The message as the client sent it. */
  data: Buffer;
  head: HeaderField[];
  /** False for authenticated senders: their mail is scanned for viruses, not scored as spam. */
  scoreSpam: boolean;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  client: { ip: string; helo: string };
  /** Sender authentication, when it ran (port 25). */
  auth?: AuthFacts | undefined;
  /** Local recipients' accounts: their classifiers apply. */
  accounts: Array<{ id: number; address: string }>;
  /** Every recipient as given in RCPT TO, with the account it reaches (if local): thresholds and lists apply per recipient. */
  recipients: Array<{ address: string; account?: string | undefined }>;
  /** The From field's addresses, for the allow and block lists. */
  fromAddresses: string[];
}

/**
 * One scoring check: the built-in rules, DNS blocklists, the classifier, spamd, rspamd. An engine's
 * failure (it throws) is subject to `on_engine_failure`; a built-in check that throws is logged and
 * adds nothing — the message is not held up by, say, one DNS lookup that timed out.
 */
export interface SpamCheck {
  /** Names the check in logs and in the header saying what was not checked. */
  readonly name: string;
  readonly isEngine: boolean;
  check(input: FilterInput): Promise<FilterSymbol[]>;
}
