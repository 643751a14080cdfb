/**
 * Content filtering as a stage of acceptance, with one verdict per message: the virus scan (clamd,
 * every message, authenticated or not) and the spam score (the checks — built-in rules, DNS
 * blocklists, the classifier, spamd, rspamd — summed; skipped for authenticated senders), turned into
 * an action by the configured scores — accept, file to Junk, reject (550 5.7.1) — or, when an engine
 * fails, the configured failure mode: tempfail (451 4.7.1) or accept with a header saying what was
 * not checked.
 */
import type { Logger } from '../../lib/log.js';
import type { FilterListRepo } from '../../store/index.js';
import { Clamd, type ScanResult } from './clamd.js';
import { byScore, listed, thresholdsFor, type PolicySettings, type RecipientDisposition } from './policy.js';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

export { GTUBE, builtinRules, createBuiltinRules, type Blocklist } from './rules.js';
export type { AuthFacts, FilterInput, FilterSymbol, SpamCheck } from './types.js';
export type { Disposition, RecipientDisposition } from './policy.js';

export type FilterAction = 'accept' | 'junk' | 'reject' | 'tempfail';

export interface FilterVerdict {
  action: FilterAction;
  /** Sum of the symbols' scores; undefined when spam scoring did not run. */
  score: number | undefined;
  symbols: FilterSymbol[];
  /** The virus clamd named, if any. */
  virus?: string | undefined;
  /** Why the action was taken, for the reply and the log. */
  reason: string;
  /** Header fields to add on top of the message (X-Spam-*, X-Virus-*). */
  headers: string;
  /** Per recipient: inbox, Junk, quarantine or refusal, by its domain's thresholds and its lists. */
  recipients: RecipientDisposition[];
  /** How long quarantined copies are kept. */
  holdForMs: number;
}

export interface FilterSettings extends PolicySettings {
  /** clamd's address; undefined: no virus scan. */
  clamd?: { address: string; timeoutMs: number } | undefined;
  onEngineFailure: 'tempfail' | 'accept';
  /** X-Spam-Status, X-Spam-Score and X-Spam-Symbols, or rspamd's X-Spamd-Result and X-Rspamd-Score. */
  headerStyle?: 'spamassassin' | 'rspamd' | undefined;
  /** How long quarantined copies are kept ([filter] quarantine_keep). */
  quarantineKeepMs?: number | undefined;
  /** Weights over the checks' own, by symbol name ([filter.scores]); 0 drops the symbol. */
  scores?: Readonly<Record<string, number>> | undefined;
}

export class ContentFilter {
  private readonly clamd: Clamd | undefined;

  constructor(
    private readonly deps: {
      settings: FilterSettings;
      hostname: string;
      log: Logger;
      checks: readonly SpamCheck[];
      /** The allow and block lists; without them, none apply. */
      lists?: Pick<FilterListRepo, 'list'> | undefined;
      /** Told each spam verdict (the classifier learns from the confident ones). */
      onVerdict?: ((input: FilterInput, score: number, symbols: readonly FilterSymbol[]) => void) | undefined;
    },
  ) {
    const c = deps.settings.clamd;
    this.clamd = c ? new Clamd(c) : undefined;
  }

  async check(input: FilterInput): Promise<FilterVerdict> {
    const headers: string[] = [];
    const done = (
      v: Omit<FilterVerdict, 'headers' | 'holdForMs' | 'recipients'>,
      recipients: RecipientDisposition[] = [],
    ) => {
      const text = headers.join('\r\n');
      return { ...v, recipients, headers: text ? `${text}\r\n` : '', holdForMs: this.holdForMs };
    };
    if (this.clamd) {
      const scanned = await this.scan(input);
      if (scanned === 'failed') {
        if (this.deps.settings.onEngineFailure === 'tempfail')
          return done({
            action: 'tempfail',
            score: undefined,
            symbols: [],
            reason: 'the virus scanner is not available',
          });
        headers.push(`X-Virus-Status: Unchecked (scanner unavailable) on ${this.deps.hostname}`);
      } else if (scanned.kind === 'infected') {
        return done({
          action: 'reject',
          score: undefined,
          symbols: [],
          virus: scanned.name,
          reason: `virus found: ${scanned.name}`,
        });
      } else headers.push(`X-Virus-Status: Clean on ${this.deps.hostname}`);
    }
    const inbox = input.recipients.map((r) => ({
      address: r.address,
      disposition: 'inbox' as const,
      why: 'not scored',
    }));
    if (!input.scoreSpam) return done({ action: 'accept', score: undefined, symbols: [], reason: 'not scored' }, inbox);
    const settings = this.deps.settings;
    const scored =
      input.recipients.length === 0 || input.recipients.some((r) => thresholdsFor(settings, r.address).spamScoring);
    let score: number | undefined;
    let symbols: FilterSymbol[] = [];
    if (scored) {
      const found = await this.score(input);
      if (found.failed.length && settings.onEngineFailure === 'tempfail')
        return done({
          action: 'tempfail',
          score: undefined,
          symbols: [],
          reason: `${found.failed.join(', ')} not available`,
        });
      symbols = found.symbols;
      score = Math.round(symbols.reduce((sum, s) => sum + s.score, 0) * 100) / 100;
      headers.push(...scoreHeaders(settings.headerStyle ?? 'spamassassin', score, symbols, settings.junkScore));
      if (found.failed.length)
        headers.push(`X-Spam-Unchecked: ${found.failed.join(', ')} unavailable on ${this.deps.hostname}`);
      else this.deps.onVerdict?.(input, score, symbols);
    }
    const recipients = await this.dispose(input, score);
    return done({ ...summary(recipients, score, symbols, settings), score, symbols }, recipients);
  }

  /** Each recipient's disposition: its lists first, then its domain's thresholds. */
  private async dispose(input: FilterInput, score: number | undefined): Promise<RecipientDisposition[]> {
    const scopes = new Set<string>();
    for (const r of input.recipients) {
      scopes.add(r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase());
      if (r.account) scopes.add(r.account.toLowerCase());
    }
    const entries = this.deps.lists && scopes.size ? await this.deps.lists.list([...scopes]) : [];
    const sender = { mailFrom: input.mailFrom, fromAddresses: input.fromAddresses, auth: input.auth };
    return input.recipients.map((r) => {
      const entry = listed(entries, r, sender);
      if (entry?.kind === 'block')
        return { address: r.address, disposition: 'reject', why: `the sender is blocked by ${entry.scope}` };
      if (entry?.kind === 'allow')
        return { address: r.address, disposition: 'inbox', why: `the sender is allowed by ${entry.scope}` };
      const disposition = byScore(score, thresholdsFor(this.deps.settings, r.address));
      return { address: r.address, disposition, why: score === undefined ? 'not scored' : `spam score ${score}` };
    });
  }

  private get holdForMs(): number {
    return this.deps.settings.quarantineKeepMs ?? 30 * 24 * 3_600_000;
  }

  /** Runs the checks side by side; an engine that failed is named in `failed`, a built-in check adds nothing. */
  private async score(input: FilterInput): Promise<{ symbols: FilterSymbol[]; failed: string[] }> {
    const weights = this.deps.settings.scores ?? {};
    const failed: string[] = [];
    const found = await Promise.all(
      this.deps.checks.map(async (c) => {
        try {
          return await c.check(input);
        } catch (err) {
          this.deps.log.warn(
            { qid: input.qid, check: c.name, err },
            c.isEngine ? 'spam engine failed' : 'check failed',
          );
          if (c.isEngine) failed.push(c.name);
          return [];
        }
      }),
    );
    // A rule weighed 0 in [filter.scores] is turned off; a check's own 0 (spamd's score of a clean message) is kept.
    const symbols = found
      .flat()
      .filter((s) => weights[s.name] !== 0)
      .map((s) => (s.name in weights ? { ...s, score: weights[s.name]! } : s));
    return { symbols, failed };
  }

  private async scan(input: FilterInput): Promise<ScanResult | 'failed'> {
    const started = Date.now();
    try {
      const result = await this.clamd!.scan(input.data);
      this.deps.log.info({ qid: input.qid, ms: Date.now() - started, ...result }, 'virus scan');
      return result;
    } catch (err) {
      this.deps.log.warn(
        { qid: input.qid, err, failureMode: this.deps.settings.onEngineFailure },
        'virus scanner failed',
      );
      return 'failed';
    }
  }
}

/**
 * The message-level action: refused when every recipient refuses it (or, with no recipients to ask,
 * by the server-wide thresholds); otherwise accepted, with 'junk' when any copy is not for the inbox.
 */
function summary(
  recipients: RecipientDisposition[],
  score: number | undefined,
  symbols: FilterSymbol[],
  settings: FilterSettings,
): { action: FilterAction; reason: string } {
  const names = symbols.map((s) => `${s.name}=${s.score}`).join(', ');
  const spam = `spam score ${score} (${names})`;
  if (recipients.length === 0) {
    const d = byScore(score, settings);
    return d === 'inbox'
      ? { action: 'accept', reason: `score ${score}` }
      : { action: d === 'reject' ? 'reject' : 'junk', reason: spam };
  }
  if (recipients.every((r) => r.disposition === 'reject')) {
    const blocked = recipients.find((r) => r.why.startsWith('the sender is blocked'));
    return { action: 'reject', reason: blocked ? blocked.why : spam };
  }
  if (recipients.every((r) => r.disposition === 'inbox'))
    return { action: 'accept', reason: score === undefined ? 'not scored' : `score ${score}` };
  return { action: 'junk', reason: spam };
}

/**
 * The score as header fields: SpamAssassin's X-Spam-Status ("Yes, score=7.1 required=5") with
 * X-Spam-Score and X-Spam-Symbols, or rspamd's milter headers (X-Spamd-Result "default: True [7.10 /
 * 5.00]; SYMBOL(score)" and X-Rspamd-Score), which mail clients and Sieve scripts already read.
 */
function scoreHeaders(
  style: 'spamassassin' | 'rspamd',
  score: number,
  symbols: FilterSymbol[],
  junk: number,
): string[] {
  const spam = score >= junk;
  if (style === 'rspamd') {
    const list = symbols.map((s) => `; ${s.name}(${s.score.toFixed(2)})`).join('');
    return [
      `X-Spamd-Result: default: ${spam ? 'True' : 'False'} [${score.toFixed(2)} / ${junk.toFixed(2)}]${list}`,
      `X-Rspamd-Score: ${score.toFixed(2)}`,
    ];
  }
  const names = symbols.map((s) => `${s.name}=${s.score}`).join(', ');
  return [
    `X-Spam-Status: ${spam ? 'Yes' : 'No'}, score=${score} required=${junk}`,
    `X-Spam-Score: ${score}`,
    `X-Spam-Symbols: ${names || 'none'}`,
  ];
}
