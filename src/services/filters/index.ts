/**
 * Content filtering as a stage of acceptance, with one verdict per message: the virus scan (clamd,
 * every message, authenticated or not) and the spam score (the checks — built-in rules, DNS
 * blocklists, the classifier, spamd, rspamd — summed; skipped for authenticated senders), turned into
 * an action by the configured scores — accept, file to Junk, reject (550 5.7.1) — or, when an engine
 * fails, the configured failure mode: tempfail (451 4.7.1) or accept with a header saying what was
 * not checked.
 */
import type { Logger } from '../../lib/log.js';
import { Clamd, type ScanResult } from './clamd.js';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

export { GTUBE, builtinRules } from './rules.js';
export type { AuthFacts, FilterInput, FilterSymbol, SpamCheck } from './types.js';

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
}

export interface FilterSettings {
  /** clamd's address; undefined: no virus scan. */
  clamd?: { address: string; timeoutMs: number } | undefined;
  onEngineFailure: 'tempfail' | 'accept';
  junkScore: number;
  rejectScore: number;
  /** Weights over the checks' own, by symbol name ([filter.scores]); 0 drops the symbol. */
  scores?: Readonly<Record<string, number>> | undefined;
}

export class ContentFilter {
  private readonly clamd: Clamd | undefined;

  constructor(
    private readonly deps: { settings: FilterSettings; hostname: string; log: Logger; checks: readonly SpamCheck[] },
  ) {
    const c = deps.settings.clamd;
    this.clamd = c ? new Clamd(c) : undefined;
  }

  async check(input: FilterInput): Promise<FilterVerdict> {
    const headers: string[] = [];
    if (this.clamd) {
      const scanned = await this.scan(input);
      if (scanned === 'failed') {
        if (this.deps.settings.onEngineFailure === 'tempfail')
          return verdict('tempfail', undefined, [], undefined, 'the virus scanner is not available', '');
        headers.push(`X-Virus-Status: Unchecked (scanner unavailable) on ${this.deps.hostname}`);
      } else if (scanned.kind === 'infected') {
        return verdict('reject', undefined, [], scanned.name, `virus found: ${scanned.name}`, '');
      } else headers.push(`X-Virus-Status: Clean on ${this.deps.hostname}`);
    }
    if (!input.scoreSpam) return verdict('accept', undefined, [], undefined, 'not scored', headers.join('\r\n'));
    const { symbols, failed } = await this.score(input);
    if (failed.length && this.deps.settings.onEngineFailure === 'tempfail')
      return verdict('tempfail', undefined, [], undefined, `${failed.join(', ')} not available`, headers.join('\r\n'));
    const score = Math.round(symbols.reduce((sum, s) => sum + s.score, 0) * 100) / 100;
    const { junkScore, rejectScore } = this.deps.settings;
    const action: FilterAction = score >= rejectScore ? 'reject' : score >= junkScore ? 'junk' : 'accept';
    const names = symbols.map((s) => `${s.name}=${s.score}`).join(', ');
    headers.push(
      `X-Spam-Status: ${score >= junkScore ? 'Yes' : 'No'}, score=${score} required=${junkScore}`,
      `X-Spam-Score: ${score}`,
      `X-Spam-Symbols: ${names || 'none'}`,
    );
    if (failed.length) headers.push(`X-Spam-Unchecked: ${failed.join(', ')} unavailable on ${this.deps.hostname}`);
    const reason = action === 'accept' ? `score ${score}` : `spam score ${score} (${names})`;
    return verdict(action, score, symbols, undefined, reason, headers.join('\r\n'));
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
    const symbols = found
      .flat()
      .map((s) => (s.name in weights ? { ...s, score: weights[s.name]! } : s))
      .filter((s) => s.score !== 0);
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

function verdict(
  action: FilterAction,
  score: number | undefined,
  symbols: FilterSymbol[],
  virus: string | undefined,
  reason: string,
  headers: string,
): FilterVerdict {
  return { action, score, symbols, virus, reason, headers: headers ? `${headers}\r\n` : '' };
}
