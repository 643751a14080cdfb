/**
 * The learning classifier as a check of the content filter: a Bayesian filter over OSB word pairs
 * and header features (tokenize.ts, model.ts) whose counts live in the store — a global model, and
 * one per account added to it when a message has a single local recipient. It reports nothing until
 * `min_trained` spam and ham are learnt. It learns from `postern spam learn`, from the user's sorting
 * over IMAP (into or out of Junk, $Junk / $NotJunk), and from verdicts confident without it.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../../lib/log.js';
import { headerEnd } from '../../../mail/mime/headers.js';
import type { BlobStore, ClassifierLearnOutcome, ClassifierRepo } from '../../../store/index.js';
import type { FilterInput, FilterSymbol, SpamCheck } from '../types.js';
import { bayesProbability, DEFAULT_SCALE, probabilitySymbol, type SymbolScale } from './model.js';
import { features } from './tokenize.js';

export { bayesProbability, probabilitySymbol } from './model.js';
export { features, featureStrings } from './tokenize.js';

/** The global model's scope; an account's is its id. */
export const GLOBAL = 0;
/** The symbols the classifier reports, left out of the score autolearning looks at. */
export const CLASSIFIER_SYMBOLS: readonly string[] = ['BAYES_SPAM', 'BAYES_HAM'];

export interface ClassifierSettings {
  enabled: boolean;
  /** [filter] junk_score: BAYES_SPAM reaches it when the classifier is nearly sure (DEFAULT_SCALE). */
  junkScore: number;
  minTrained: number;
  maxTokens: number;
  autolearnSpamScore: number;
  autolearnHamScore: number;
}

export type LearnOutcome = ClassifierLearnOutcome;
/** Messages learnt in one store transaction. */
export const LEARN_BATCH = 100;

export class Classifier implements SpamCheck {
  readonly name = 'classifier';
  readonly isEngine = false;
  private autolearning = false;

  constructor(
    private readonly deps: {
      repo: ClassifierRepo;
      settings: ClassifierSettings;
      log: Logger;
      scale?: SymbolScale;
      /** Where stored messages are read from when a user sorts them. */
      blobs?: BlobStore;
    },
  ) {}

  /** The global model, plus the account's when the message is for one account only. */
  async check(input: FilterInput): Promise<FilterSymbol[]> {
    const p = await this.probability(input.data, input.accounts.length === 1 ? input.accounts[0]!.id : undefined);
    if (p === undefined) return [];
    const junkScore = this.deps.settings.junkScore;
    const symbol = probabilitySymbol(p, this.deps.scale ?? { ...DEFAULT_SCALE, junkScore, maxSpam: junkScore * 1.2 });
    return symbol ? [symbol] : [];
  }

  /** The spam probability of a message, or undefined while too little has been learnt. */
  async probability(message: Buffer, accountId?: number): Promise<number | undefined> {
    const { enabled, minTrained } = this.deps.settings;
    if (!enabled) return undefined;
    const scopes = accountId === undefined ? [GLOBAL] : [GLOBAL, accountId];
    const enough = (t: { spam: number; ham: number }) =>
      t.spam >= Math.max(1, minTrained) && t.ham >= Math.max(1, minTrained);
    // The totals alone first: an untrained model costs one small query, not a lookup per feature.
    if (!enough((await this.deps.repo.counts(scopes, [])).totals)) return undefined;
    const found = await this.deps.repo.counts(scopes, features(message));
    if (!enough(found.totals)) return undefined;
    return bayesProbability(found.features.values(), found.totals);
  }

  /** Learns a message into the account's model, or the global one without an account. */
  async learn(accountId: number | undefined, message: Buffer, as: 'spam' | 'ham'): Promise<LearnOutcome> {
    return (await this.learnMany(accountId, [message], as))[0]!;
  }

  /** Learns messages in one store transaction (a caller learning many passes them LEARN_BATCH at a time). */
  learnMany(accountId: number | undefined, messages: Buffer[], as: 'spam' | 'ham'): Promise<LearnOutcome[]> {
    const items = messages.map((m) => ({ digest: messageDigest(m), features: features(m), as }));
    return this.deps.repo.learn([accountId ?? GLOBAL], items, this.deps.settings.maxTokens);
  }

  /**
   * The user's sorting over IMAP, told by Mailboxes after its commit: learnt in the background,
   * LEARN_BATCH messages a transaction, failures logged; the IMAP command does not wait for it.
   */
  readonly userSorted = (accountId: number, as: 'spam' | 'ham', blobHashes: string[]): void => {
    const blobs = this.deps.blobs;
    if (!this.deps.settings.enabled || !blobs) return;
    void (async () => {
      for (let i = 0; i < blobHashes.length; i += LEARN_BATCH) {
        const batch = blobHashes.slice(i, i + LEARN_BATCH);
        try {
          const outcomes = await this.learnMany(accountId, await Promise.all(batch.map((h) => blobs.get(h))), as);
          batch.forEach((blob, k) =>
            this.deps.log.info({ accountId, as, blob, outcome: outcomes[k] }, 'classifier learnt from the user'),
          );
        } catch (err) {
          this.deps.log.warn({ accountId, as, blobs: batch, err }, 'classifier could not learn');
        }
      }
    })();
  };

  /**
   * Learns from a verdict that is confident without the classifier: the score less the classifier's
   * own symbols at least `autolearn_spam_score` is spam, at most `autolearn_ham_score` ham (global
   * model). Runs in the background, one message at a time (others meanwhile are not learnt); the
   * message is not held up.
   */
  autolearn(input: FilterInput, score: number | undefined, symbols: readonly FilterSymbol[]): void {
    const { enabled, autolearnSpamScore, autolearnHamScore } = this.deps.settings;
    if (!enabled || score === undefined) return;
    const own = symbols.filter((s) => CLASSIFIER_SYMBOLS.includes(s.name)).reduce((n, s) => n + s.score, 0);
    const without = score - own;
    const as = without >= autolearnSpamScore ? 'spam' : without <= autolearnHamScore ? 'ham' : undefined;
    // One at a time: a flood of obvious spam must not queue a learning transaction per message.
    if (!as || this.autolearning) return;
    this.autolearning = true;
    this.learn(undefined, input.data, as)
      .then(
        (outcome) => this.deps.log.info({ qid: input.qid, as, score: without, outcome }, 'classifier autolearnt'),
        (err: unknown) => this.deps.log.warn({ qid: input.qid, err }, 'classifier could not autolearn'),
      )
      .finally(() => (this.autolearning = false));
  }

  stats(accountId?: number): Promise<{ spam: number; ham: number; features: number }> {
    return this.deps.repo.stats(accountId ?? GLOBAL);
  }
}

/**
 * What identifies a learnt message: its body and Message-ID, so that the copy delivered (with header
 * fields added on top) is the message learnt at the end of DATA.
 */
export function messageDigest(message: Buffer): string {
  const end = headerEnd(message);
  const head = message.subarray(0, end).toString('latin1');
  const mid = /^message-id:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '';
  return createHash('sha256').update(mid).update('\0').update(message.subarray(end)).digest('hex');
}
