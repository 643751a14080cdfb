/**
 * Body phrases: what bulk mail says and personal mail rarely does — the advance-fee letter's "next of
 * kin" and "transfer of the funds", "extra income" and "$500 a week", diet and pills, "100%
 * guaranteed", "to be removed from our list", mortgages and debt — as SpamAssassin's hand-written body
 * rules read them. Each kind scores once however often it is said: one phrase in a newsletter is
 * nothing, five kinds of them together are a sales letter. The weights were set on the training half
 * of bench:filter's corpus split again (docs/classifier.md), never on the half it reports.
 *
 * The Subject and the decoded text parts are read, HTML with its tags dropped, at most 64 KB of it,
 * lower-cased; every pattern is a plain alternation without nested repetition, so a hostile text
 * costs linear time.
 */
import type { FilterSymbol } from '../types.js';

/** How much decoded text the phrases are looked for in: a sales pitch starts early. */
export const MAX_PHRASE_TEXT = 64 * 1024;

interface PhraseRule {
  name: string;
  score: number;
  /** Says what kind of text it is; the phrase found is appended. */
  what: string;
  pattern: RegExp;
}

/** Kinds nine times or more as frequent in spam as in ham on the corpus (1.3 each). */
const STRONG = 1.3;
/** Kinds three to nine times as frequent (0.6 each). */
const WEAK = 0.6;

const RULES: readonly PhraseRule[] = [
  {
    name: 'ADVANCE_FEE',
    score: STRONG,
    what: 'reads like an advance-fee fraud letter',
    pattern:
      /\b(?:next of kin|transfer of (?:the )?(?:sum|funds?)|foreign (?:partner|account)|bank of nigeria|barrister|late (?:husband|father)|(?:strictly|highly|absolutely) confidential|government officials?|crude oil|huge sum|over-?invoiced|contract (?:sum|payment)|(?:this|my) (?:proposal|letter|mail) (?:may|might|will) (?:come to you as a )?surprise|got your contact|i am (?:the )?(?:son|daughter|wife|widow) of|your (?:urgent )?assistance|zimbabwe|nigeria)\b/,
  },
  {
    name: 'LOTS_OF_MONEY',
    score: STRONG,
    what: 'names millions',
    pattern: /(?:\$ ?\d{1,3}(?:,\d{3}){2,}|\b\d+(?:\.\d+)? ?million (?:united states |us |u\.s\. )?dollars|\bus\$ ?\d)/,
  },
  {
    name: 'MAKE_MONEY',
    score: STRONG,
    what: 'offers money for little work',
    pattern:
      /\b(?:(?:make|earn|making|earning) (?:big |extra |serious )?(?:money|\$ ?\d|cash|income)|extra income|financial (?:freedom|independence)|work (?:from|at) home|home-? ?based business|residual income|no experience (?:is )?(?:necessary|required|needed)|be your own boss|multi-? ?level marketing|mlm|business opportunity|get rich|money-? ?making)\b/,
  },
  {
    name: 'INCOME_PER_PERIOD',
    score: STRONG,
    what: 'promises an income per week or month',
    pattern: /(?:\$ ?\d[\d,]* (?:per|a|each|every) (?:week|day|month)\b|\bweekly income\b)/,
  },
  {
    name: 'DIET_OR_DRUGS',
    score: STRONG,
    what: 'sells weight loss or drugs',
    pattern:
      /\b(?:(?:lose|lost|losing) (?:up to )?\d+ (?:pounds|lbs)|lose weight|weight loss|burns? fat|diet (?:pills?|patch)|appetite suppressant|hgh|human growth hormone|anti-? ?aging|viagra|herbal|penis|enlarge)/,
  },
  {
    name: 'ONLINE_PHARMACY',
    score: STRONG,
    what: 'sells medicine',
    pattern: /\b(?:prescriptions?|pharmacy|medications?|online doctor)\b/,
  },
  {
    name: 'GUARANTEED',
    score: STRONG,
    what: 'guarantees it',
    pattern:
      /(?:\b100 ?% (?:guaranteed|satisfaction|risk-? ?free|free|legal)|\bmoney-? ?back guarantee|\brisk-? ?free\b|\bsatisfaction guaranteed|\bno risk\b|\bguaranteed (?:results|income|approval))/,
  },
  {
    name: 'REMOVE_ME',
    score: STRONG,
    what: 'tells how to be taken off a bulk list',
    pattern:
      /\b(?:to be removed from|to remove yourself|remove in the subject|reply with "?remove|(?:type|put|with) "?remove"? in the subject|to unsubscribe from (?:this|our) (?:list|mailing)|this (?:is not|isn't) (?:spam|unsolicited)|bulk e-?mail|opt-? ?in list|you (?:received|are receiving) this (?:e-?mail|message) because|one-? ?time (?:mailing|e-?mail)|sent in compliance|bill s\.? ?1618|section 301|(?:ours|this) is not a mailing list|(?:do not|don'?t) intend to send|per fed(?:eral)? law|sent to you by mistake)/,
  },
  {
    name: 'MORTGAGE_OR_DEBT',
    score: STRONG,
    what: 'offers loans or debt relief',
    pattern:
      /\b(?:mortgage|refinanc|home loan|lower your (?:monthly )?payment|interest rates? (?:as low|are at)|debt consolidation|credit card debt|eliminate (?:your )?debt|bad credit|credit (?:report|rating|repair))/,
  },
  { name: 'EXCLAIMS', score: STRONG, what: 'exclaims', pattern: /!!!/ },
  {
    name: 'ACT_NOW',
    score: WEAK,
    what: 'urges to act at once',
    pattern:
      /\b(?:act now|order (?:now|today)|call now|don'?t delay|limited time|while supplies last|offer expires|apply (?:now|online)|click (?:here|below) (?:to|now|for)|(?:this|one) time offer|urgent|hurry)\b/,
  },
  {
    name: 'FREE_OFFER',
    score: WEAK,
    what: 'gives something away',
    pattern:
      /\b(?:free (?:gift|trial|offer|info|information|quote|consultation|access|cd|report|money)\b|absolutely free|it'?s free|for free!)/,
  },
  {
    name: 'PRIZE',
    score: WEAK,
    what: 'announces a prize',
    pattern:
      /\b(?:you (?:have been|are|were) (?:selected|chosen)|congratulations|you(?:'ve| have) won|winner|claim your|prize|lottery|sweepstakes)/,
  },
  {
    name: 'STOCK_TIP',
    score: WEAK,
    what: 'touts shares',
    pattern: /\b(?:stock (?:pick|alert|profile)|investors?|shares? of|otc|penny stock|forward-? ?looking statements)\b/,
  },
  {
    name: 'STOCK_PROFILE',
    score: STRONG,
    what: 'profiles a penny stock',
    pattern: /\b(?:shares outstanding|stock symbol|symbol: [a-z]{2,5}\b|short-term target|otc-?bb|pink sheets)/,
  },
  {
    name: 'ADULT',
    score: STRONG,
    what: 'advertises sex',
    pattern:
      /\b(?:porn|xxx|hardcore|dildo|cum shots?|horny|sex (?:site|contacts?|videos?)|adult (?:site|content|entertainment)|webcams?)\b/,
  },
  { name: 'WAREZ', score: STRONG, what: 'sells pirated software', pattern: /\bwarez\b/ },
  {
    name: 'INSURANCE_QUOTE',
    score: WEAK,
    what: 'sells insurance',
    pattern: /\b(?:insurance|term life|quotes?)\b/,
  },
  {
    name: 'BULK_MARKETING',
    score: WEAK,
    what: 'sells mailing lists or web traffic',
    pattern:
      /\b(?:e-?mail (?:marketing|addresses)|million (?:e-?mail )?addresses|targeted (?:e-?mail|list)|increase (?:your )?(?:sales|traffic)|search engine (?:placement|position|ranking)|(?:on|to) (?:the )?(?:top |major |many )?search engines|web ?site traffic)\b/,
  },
  {
    name: 'DEAR_FRIEND',
    score: WEAK,
    what: 'greets no one by name',
    pattern: /\b(?:dear (?:friend|sir|madam|sir\/madam|sir or madam|valued (?:customer|member))|greetings)\b/,
  },
  {
    name: 'CASINO',
    score: WEAK,
    what: 'invites to gamble',
    pattern: /\b(?:casino|gambling|poker|blackjack)\b/,
  },
  {
    name: 'DIPLOMA',
    score: WEAK,
    what: 'sells degrees',
    pattern: /\b(?:diplomas?|degree (?:program|from)|college degree)\b/,
  },
];

/** Half the letters or more in capitals: shouting. */
const SHOUTING = 0.5;

/** Five or more prices: a catalogue. */
const PRICE = /\$ ?\d/g;

/** The text as the phrases read it: tags dropped, the commonest entities and all white space folded. */
function plainText(subject: string, body: string): string {
  return `${subject}\n${body.slice(0, MAX_PHRASE_TEXT)}`
    .replace(/<[^<>]*>/g, ' ')
    .replace(/&nbsp;|&#160;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/\s+/g, ' ');
}

/** The phrase rules over a decoded Subject and body (text parts, HTML as it is). */
export function phraseSymbols(subject: string, body: string): FilterSymbol[] {
  const plain = plainText(subject, body);
  const text = plain.toLowerCase();
  const out: FilterSymbol[] = [];
  for (const rule of RULES) {
    const m = rule.pattern.exec(text);
    if (m) out.push({ name: rule.name, score: rule.score, why: `the text ${rule.what} ("${m[0].trim()}")` });
  }
  let prices = 0;
  PRICE.lastIndex = 0;
  while (prices < 5 && PRICE.exec(text)) prices++;
  if (prices >= 5) out.push({ name: 'MANY_PRICES', score: WEAK, why: 'the text names five prices or more' });
  const shouting = capitals(plain);
  if (shouting !== undefined && shouting >= SHOUTING)
    out.push({
      name: 'SHOUTING',
      score: STRONG,
      why: `${Math.round(shouting * 100)} % of the text's letters are capitals`,
    });
  return out;
}

/** The share of capitals among the letters (ASCII), when there are enough letters to tell. */
function capitals(text: string): number | undefined {
  let upper = 0;
  let letters = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    else if (!(c >= 97 && c <= 122)) continue;
    letters++;
  }
  return letters >= 200 ? upper / letters : undefined;
}
