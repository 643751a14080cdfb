/**
 * Content filtering as a stage of acceptance, with one verdict per message: the virus scan (clamd,
 * every message, authenticated or not) and the spam score (the built-in rules; skipped for
 * authenticated senders), turned into an action by the configured scores — accept, file to Junk,
 * reject (550 5.7.1) — or, when an engine fails, the configured failure mode: tempfail (451 4.7.1) or
 * accept with a header saying the message was not scanned.
 */
import type { Logger } from '../../lib/log.js';
import type { HeaderField } from '../../mail/mime/headers.js';
import { Clamd, type ScanResult } from './clamd.js';
import { builtinSymbols, type FilterSymbol } from './rules.js';

export { type FilterSymbol, GTUBE } from './rules.js';

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
}

export interface FilterInput {
  qid: string;
  data: Buffer;
  head: HeaderField[];
  /** False for authenticated senders: their mail is scanned for viruses, not scored as spam. */
  scoreSpam: boolean;
}

export class ContentFilter {
  private readonly clamd: Clamd | undefined;

  constructor(private readonly deps: { settings: FilterSettings; hostname: string; log: Logger }) {
    const c = deps.settings.clamd;
    this.clamd = c ? new Clamd(c) : undefined;
  }

  async check(input: FilterInput): Promise<FilterVerdict> {
    const headers: string[] = [];
    if (this.clamd) {
      const scanned = await this.scan(input);
      if (scanned === 'failed') {
        if (this.deps.settings.onEngineFailure === 'tempfail')
          return this.verdict('tempfail', undefined, [], undefined, 'the virus scanner is not available', '');
        headers.push(`X-Virus-Status: Unchecked (scanner unavailable) on ${this.deps.hostname}`);
      } else if (scanned.kind === 'infected') {
        return this.verdict('reject', undefined, [], scanned.name, `virus found: ${scanned.name}`, '');
      } else headers.push(`X-Virus-Status: Clean on ${this.deps.hostname}`);
    }
    if (!input.scoreSpam) return this.verdict('accept', undefined, [], undefined, 'not scored', headers.join('\r\n'));
    const symbols = builtinSymbols(input.data, input.head);
    const score = Math.round(symbols.reduce((sum, s) => sum + s.score, 0) * 100) / 100;
    const { junkScore, rejectScore } = this.deps.settings;
    const action: FilterAction = score >= rejectScore ? 'reject' : score >= junkScore ? 'junk' : 'accept';
    const names = symbols.map((s) => `${s.name}=${s.score}`).join(', ');
    headers.push(
      `X-Spam-Status: ${score >= junkScore ? 'Yes' : 'No'}, score=${score} required=${junkScore}`,
      `X-Spam-Score: ${score}`,
      `X-Spam-Symbols: ${names || 'none'}`,
    );
    const reason = action === 'accept' ? `score ${score}` : `spam score ${score} (${names})`;
    return this.verdict(action, score, symbols, undefined, reason, headers.join('\r\n'));
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

  private verdict(
    action: FilterAction,
    score: number | undefined,
    symbols: FilterSymbol[],
    virus: string | undefined,
    reason: string,
    headers: string,
  ): FilterVerdict {
    return { action, score, symbols, virus, reason, headers: headers ? `${headers}\r\n` : '' };
  }
}
