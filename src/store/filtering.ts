/** The content filter's state: allow and block lists, the quarantine, greylisting and the learning classifier. */

/** An entry of an allow or block list: `scope` is a hosted domain or an account address; `entry` an address or a domain. */
export interface FilterListEntry {
  scope: string;
  entry: string;
  kind: 'allow' | 'block';
}

export interface FilterListRepo {
  /** Adds or changes the kind of an entry. */
  put(entry: FilterListEntry): Promise<void>;
  remove(scope: string, entry: string): Promise<boolean>;
  /** Entries of the given scopes (all scopes when omitted), sorted by scope then entry. */
  list(scopes?: readonly string[]): Promise<FilterListEntry[]>;
}

/** A message held by policy for one recipient, until released, deleted or expired. */
export interface QuarantinedMessage {
  id: number;
  qid: string;
  /** The recipient as given in RCPT TO, and the account it was for. */
  recipient: string;
  accountId: number | null;
  mailFrom: string;
  subject: string;
  reason: string;
  score: number | null;
  size: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface QuarantineRepo {
  hold(entry: Omit<QuarantinedMessage, 'id' | 'size'> & { content: Buffer }): Promise<QuarantinedMessage>;
  get(id: number): Promise<QuarantinedMessage | undefined>;
  content(id: number): Promise<Buffer | undefined>;
  /** Newest first; `recipientDomain` limits the list to one domain's recipients. */
  list(options?: { recipientDomain?: string; limit?: number }): Promise<QuarantinedMessage[]>;
  remove(id: number): Promise<boolean>;
  /** Deletes what expired before `now`; returns how many. */
  expire(now: Date): Promise<number>;
}

/** Greylisting state: one row per (client network, sender, recipient) triplet, and per client network. */
export interface GreylistTriplet {
  firstSeen: Date;
  lastSeen: Date;
  /** Deliveries let through for this triplet. */
  passes: number;
}

export interface GreylistRepo {
  triplet(key: string): Promise<GreylistTriplet | undefined>;
  putTriplet(key: string, state: GreylistTriplet): Promise<void>;
  /** Triplets that passed after the delay from this client network (postgrey's auto-whitelist count). */
  clientPasses(network: string): Promise<number>;
  addClientPass(network: string, now: Date): Promise<void>;
  /** Forgets triplets and networks not seen since `before`. */
  expire(before: Date): Promise<number>;
}

/** Spam and ham messages learnt, in one scope (0: the global model; otherwise an account id). */
export interface ClassifierTotals {
  spam: number;
  ham: number;
}

/** A message to learn: what identifies it, its features, and what it is. */
export interface ClassifierLearnItem {
  digest: string;
  features: number[];
  as: 'spam' | 'ham';
}

export type ClassifierLearnOutcome = 'learnt' | 'already' | 'relearnt';

/**
 * The learning classifier's state: per scope, how many learnt spam and ham messages carried each
 * hashed feature, the totals, and the digests of the messages learnt (learning is idempotent, and
 * learning a message the other way first takes back what it taught).
 */
export interface ClassifierRepo {
  /** The features' counts summed over the scopes (features never seen are absent), and the totals summed. */
  counts(
    scopes: number[],
    features: number[],
  ): Promise<{ totals: ClassifierTotals; features: Map<number, ClassifierTotals> }>;
  /**
   * Learns messages in each scope, in one transaction, with an outcome per message: "already" when
   * it was learnt so in every scope, "relearnt" when it was learnt the other way somewhere (those
   * counts are taken back first). A scope holding more than `maxFeatures` features loses the least
   * seen ones, the least recently learnt among equals.
   */
  learn(scopes: number[], items: ClassifierLearnItem[], maxFeatures: number): Promise<ClassifierLearnOutcome[]>;
  stats(scope: number): Promise<ClassifierTotals & { features: number }>;
}
