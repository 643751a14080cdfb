/** The shapes local delivery works with: what arrives, what is decided per recipient, and what is written. */
import type { ErrorCode } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { parseMessage } from '../../mail/mime/structure.js';
import type { Store } from '../../store/index.js';
import type { Destination, Directory } from '../directory/index.js';
import type { SieveScripts } from '../sieve/index.js';

export interface InboundRecipient {
  /** As given in RCPT TO. */
  address: string;
  destinations: Destination[];
  notify?: string | undefined;
  orcpt?: string | undefined;
  /** This recipient's copy goes to this mailbox (Junk by its spam thresholds) instead of the message's folder. */
  folder?: string | undefined;
  /** This recipient's copy is held in quarantine, not delivered. */
  hold?: { reason: string; score: number | undefined; keepMs: number } | undefined;
}

export interface InboundMessage {
  /** The message as stored: trace headers (Received) already prepended. */
  content: Buffer;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  recipients: InboundRecipient[];
  /** Refuse a recipient whose quota this message would exceed (LMTP, or SMTP with one recipient). */
  enforceQuota: boolean;
  qid: string;
  /** Mailbox for local copies (Junk for quarantined mail); INBOX when absent or missing. */
  folder?: string | undefined;
  /** The folder is Junk by the content filter's score alone (a script testing spamtest decides for itself). */
  isFilterJunk?: boolean | undefined;
  /** Remote recipients of an authenticated submission, queued in the same transaction. */
  outbound?: Array<{ address: string; notify?: string | undefined; orcpt?: string | undefined }>;
  authUser?: string | undefined;
  envid?: string | undefined;
  ret?: string | undefined;
  /** A Sieve reject may be a protocol refusal (LMTP, or SMTP with one recipient); otherwise a notice is mailed. */
  canRefuse?: boolean | undefined;
}

export type RecipientResult =
  { address: string; status: 'delivered' } | { address: string; status: 'failed'; code: ErrorCode; message: string };

export interface DeliveryDeps {
  store: Store;
  /** Where addresses lead and which addresses an account may send as. */
  directory: Pick<Directory, 'resolveRecipient' | 'ownsAddress'>;
  log: Logger;
  maxReceivedHeaders: number;
  /** Key of the SRS addresses given to forwarded mail. */
  srsSecret: Buffer;
  /** Called after something was queued for remote delivery. */
  onQueued?: (() => void) | undefined;
  /** Runs the recipients' active Sieve scripts; without it, mail goes to INBOX. */
  sieve?: SieveScripts | undefined;
  /** DKIM-signs mail Postern writes itself (vacation replies, reject notices) for the domain given. */
  sign?: ((content: Buffer, domain: string) => Promise<Buffer>) | undefined;
  /** Names Postern in the Message-IDs of the mail it writes. */
  hostname?: string | undefined;
}

export type ParsedMessage = ReturnType<typeof parseMessage>;

export type LocalDestination = Extract<Destination, { kind: 'local' }>;

/** Where one account's copy goes: a mailbox with flags, created first when :create asked for it. */
export interface Placement {
  mailbox: string;
  flags: string[];
  create: boolean;
}

/** An account's copies: its per-recipient header lines and the mailboxes they go to. */
export interface LocalCopy {
  destination: LocalDestination;
  prefix: string;
  placements: Placement[];
}

/** A copy for a remote address; a Sieve redirect carries the key that makes it once a day. */
export interface RemoteCopy {
  sender: string;
  rcpt: InboundRecipient;
  dedupe?: { accountId: number; key: string } | undefined;
}

/** Mail Sieve asks Postern to write (a vacation reply, a reject notice), sent after the commit. */
export interface Generated {
  content: Buffer;
  recipient: string;
  kind: 'vacation' | 'reject';
  /** The domain whose DKIM key signs it: the From address's. */
  signer: string;
  /** Vacation: sent only if no reply to this sender and handle is recorded (RFC 5230 §4.2). */
  claim?: { accountId: number; key: string; expiresAt: Date };
}

/**
 * What delivery decided for one message, before anything is written: a result per recipient (its
 * verdict: delivered to mailboxes and queues, or refused with a code), the mailbox copies per account,
 * the remote copies per address, and the mail to write after the commit. `applyPlan` writes it in one
 * transaction.
 */
export interface DeliveryPlan {
  msg: InboundMessage;
  /** When planning began (Date.now()), for the delivery log line. */
  startedAt: number;
  /** Refused as a whole for too many Received fields: nothing to write, nothing to log as delivered. */
  isLoop: boolean;
  parsed: ParsedMessage;
  results: RecipientResult[];
  local: Map<number, LocalCopy>;
  remote: Map<string, RemoteCopy>;
  generated: Generated[];
  /** Copies held in quarantine: the recipient, its account and why. */
  held: Array<{ recipient: InboundRecipient; accountId: number | null }>;
}
