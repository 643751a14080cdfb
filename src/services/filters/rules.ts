/**
 * The built-in content rules that need nothing installed: each a name, a weight and a reason, as
 * SpamAssassin reports its rules. GTUBE (the Generic Test for Unsolicited Bulk Email) marks a message
 * as spam for testing a setup end to end; missing Date and Message-ID are what real clients never send.
 */
import { headerValue } from '../../mail/mime/headers.js';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

/** SpamAssassin's GTUBE string (its body test GTUBE scores 1000). */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export function builtinSymbols(input: Pick<FilterInput, 'data' | 'head'>): FilterSymbol[] {
  const { data, head } = input;
  const symbols: FilterSymbol[] = [];
  if (data.includes(GTUBE, 0, 'latin1'))
    symbols.push({ name: 'GTUBE', score: 1000, why: 'the GTUBE test string is in the message' });
  if (!headerValue(head, 'date'))
    symbols.push({ name: 'MISSING_DATE', score: 1, why: 'no Date field (RFC 5322 section 3.6 requires one)' });
  if (!headerValue(head, 'message-id')) symbols.push({ name: 'MISSING_MID', score: 0.5, why: 'no Message-ID field' });
  return symbols;
}

/** The header and body rules as a check of the filter. */
export const builtinRules: SpamCheck = {
  name: 'rules',
  isEngine: false,
  check: (input) => Promise.resolve(builtinSymbols(input)),
};
