/**
 * The values of the RFC 5235 tests spamtest, spamtestplus (:percent) and virustest, read from the
 * header fields Postern's content filter writes on top of every message it checks
 * (services/filters/index.ts):
 *
 *   X-Spam-Status: Yes|No, score=<score> required=<junk_score>   (header_style "spamassassin")
 *   X-Spamd-Result: default: True|False [<score> / <required>]    (header_style "rspamd")
 *   X-Virus-Status: Clean on <host> | Unchecked (<why>) on <host> | Infected (<name>) on <host>
 *
 * Only the topmost instance of each field counts: the filter's fields sit above the sender's own, so a
 * field a sender wrote lower down never decides a test. A field that is absent or does not parse
 * means "not tested" (RFC 5235 §3.1, §3.3: "0").
 *
 * spamtest (RFC 5235 §3.1), "1" to "10", linear between 0 and the junk score (`required`):
 *   score ≤ 0                → "1"  (definitely not spam)
 *   0 < score < required     → "2" … "9"  (2 + ⌊8 · score / required⌋: eight equal bands)
 *   score ≥ required         → "10" (the filter called it spam: what is filed to Junk)
 * spamtest :percent (RFC 5235 §3.2): ⌊100 · score / required⌋ clamped to 0…100, so "100" again means
 * "at or over the junk score". An untested message also reads "0" with :percent; a script tells the
 * two apart with a plain `spamtest :value "eq" "0"` first, as RFC 5235 §3.2's example does.
 * virustest (RFC 5235 §3.3): "0" not tested (no field, or Unchecked: the scanner was not reachable
 * or none is configured), "1" clean, "5" infected (Postern refuses infected mail at the end of DATA,
 * so a stored message has it only if a field says "Infected"). "2"–"4" (cured, replaced, possibly
 * infected) are never produced: the scanner does not alter messages.
 */

export interface SpamVerdict {
  score: number;
  /** The score from which the filter files the message as spam (the junk score). */
  required: number;
  /** The filter called the message spam. */
  isSpam: boolean;
}

const MAX_FIELD_CHARS = 256;
const NUMBER = '(-?\\d+(?:\\.\\d+)?)';
const SPAMASSASSIN = new RegExp(`^\\s*(yes|no)\\b.*?\\bscore=${NUMBER}.*?\\brequired=${NUMBER}`, 'i');
const RSPAMD = new RegExp(`^\\s*default:\\s*(true|false)\\s*\\[\\s*${NUMBER}\\s*/\\s*${NUMBER}\\s*\\]`, 'i');

/** The filter's spam verdict from the topmost X-Spam-Status (or X-Spamd-Result); undefined: not scored. */
export function spamVerdict(header: (name: string) => string[]): SpamVerdict | undefined {
  // The filter's fields are short; a bound keeps the patterns linear on whatever else a field holds.
  const status = header('x-spam-status')[0]?.slice(0, MAX_FIELD_CHARS);
  const m =
    status !== undefined
      ? SPAMASSASSIN.exec(status)
      : RSPAMD.exec(header('x-spamd-result')[0]?.slice(0, MAX_FIELD_CHARS) ?? '');
  if (!m) return undefined;
  const score = Number(m[2]);
  const required = Number(m[3]);
  if (!Number.isFinite(score) || !Number.isFinite(required)) return undefined;
  return { score, required, isSpam: /^(yes|true)$/i.test(m[1]!) };
}

/** RFC 5235 §3.1 (and §3.2 with :percent): the spamtest result as the string the test compares. */
export function spamtestValue(verdict: SpamVerdict | undefined, percent: boolean): string {
  if (!verdict) return '0';
  const { score, required } = verdict;
  if (percent) {
    if (score >= required) return '100';
    if (score <= 0 || required <= 0) return '0';
    return String(Math.min(100, Math.max(0, Math.floor((100 * score) / required))));
  }
  if (score >= required) return '10';
  if (score <= 0 || required <= 0) return '1';
  return String(Math.min(9, 2 + Math.floor((8 * score) / required)));
}

/** RFC 5235 §3.3: the virustest result from the topmost X-Virus-Status. */
export function virustestValue(header: (name: string) => string[]): string {
  const status = (header('x-virus-status')[0] ?? '').trim();
  if (/^clean\b/i.test(status)) return '1';
  if (/^infected\b/i.test(status)) return '5';
  return '0';
}

/** The extensions whose presence in `require` hands the spam verdict to the script. */
export const VERDICT_EXTENSIONS = ['spamtest', 'spamtestplus', 'virustest'] as const;

/** The script tests the filter's verdict itself: its keep then files to INBOX, not to Junk. */
export function decidesVerdict(requires: ReadonlySet<string>): boolean {
  return VERDICT_EXTENSIONS.some((e) => requires.has(e));
}
