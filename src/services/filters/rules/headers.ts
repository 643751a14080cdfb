/**
 * Header sanity: a From whose display name shows another address than the one it comes from (the
 * phisher's `"service@paypal.com" <x@evil.example>`), and a Subject shouting in capitals.
 */
import type { ParsedMessage } from '../../../mail/mime/structure.js';
import { decodeWords } from '../../../mail/mime/text.js';
import type { FilterSymbol } from '../types.js';
import { normalizeHost, sameOrganization } from './domains.js';

const MAX_NAME = 1000;

/**
 * rspamd's FROM_NEQ_DISPLAY_NAME (4.0) and SPOOF_DISPLAY_NAME (8.0, when the address shown is in one of
 * the recipients' own domains: mail pretending to come from a colleague). SpamAssassin has no default rule.
 */
export function fromNameSymbols(parsed: ParsedMessage, recipientDomains: readonly string[]): FilterSymbol[] {
  const from = parsed.envelope.from.find((a) => a.group === undefined && a.host);
  if (!from?.name || !from.host) return [];
  const shown = addressInName(decodeWords(from.name.slice(0, MAX_NAME)));
  if (!shown) return [];
  const shownDomain = normalizeHost(shown.slice(shown.lastIndexOf('@') + 1));
  if (sameOrganization(shownDomain, from.host)) return [];
  const real = `${from.mailbox ?? ''}@${from.host}`;
  if (recipientDomains.some((d) => sameOrganization(d, shownDomain)))
    return [
      {
        name: 'FROM_NAME_SPOOF_LOCAL',
        score: 8,
        why: `the From name shows ${shown}, an address of the recipient's own domain, but the mail is from ${real}`,
      },
    ];
  return [{ name: 'FROM_NAME_SPOOF', score: 4, why: `the From name shows ${shown} but the mail is from ${real}` }];
}

/** The first address-like word of a display name whose domain has a dot; bounded repetitions only. */
function addressInName(name: string): string | undefined {
  const m = /[A-Za-z0-9._%+-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})/.exec(name);
  return m ? m[0] : undefined;
}

/**
 * SpamAssassin's SUBJ_ALL_CAPS (0.5): a Subject of at least ten letters, none of them lower case.
 * SUBJ_RANDOM_TAIL (2): a Subject ending in what bulk mailers append to tell their runs apart — a
 * number or tag after six or more blanks of padding, or a last word of ten or more letters and digits
 * mixing upper and lower case ("…rates 0922LkVT8-113rFxd3342c-21"). On the training half of the
 * corpus split again it marked 167 spam and no ham, and caught 1, 2 and 1 more spam of 948 (seeds 7,
 * 8, 9) at no false positive more, where 1.5 caught fewer and 2.5 no more on seed 9.
 */
export function subjectSymbols(parsed: ParsedMessage): FilterSymbol[] {
  const raw = parsed.envelope.subject;
  if (!raw) return [];
  const subject = decodeWords(raw.slice(0, MAX_NAME));
  const out: FilterSymbol[] = [];
  if (randomTail(subject))
    out.push({ name: 'SUBJ_RANDOM_TAIL', score: 2, why: 'the Subject ends in padding or a random-looking tag' });
  let upper = 0;
  for (const ch of subject) {
    if (/\p{Ll}/u.test(ch)) return out;
    if (/\p{Lu}/u.test(ch)) upper++;
  }
  if (upper >= 10) out.push({ name: 'SUBJ_ALL_CAPS', score: 0.5, why: 'the Subject is all capitals' });
  return out;
}

function randomTail(subject: string): boolean {
  const text = subject.trimEnd();
  if (/\S[ \t]{6,}[#A-Za-z0-9-]{1,40}$/.test(text)) return true;
  const last = text.split(/\s+/).at(-1) ?? '';
  return /^[A-Za-z0-9-]{10,40}$/.test(last) && /\d/.test(last) && /[a-z]/.test(last) && /[A-Z]/.test(last);
}
