/**
 * The built-in rules that need nothing installed, each a name, a weight and a reason as SpamAssassin
 * reports its rules (docs/filter.md lists them): GTUBE (the Generic Test for Unsolicited Bulk Email,
 * to test a setup end to end), missing Date and Message-ID, sender authentication (rules/auth.ts),
 * the client's reverse DNS and greeting (rules/client.ts), DNS blocklists (rules/dnsbl.ts), header
 * sanity (rules/headers.ts), MIME sanity (rules/mime.ts) and body phrases (rules/phrases.ts). The message is parsed once and the parsed
 * structure shared by every rule; DNS lookups run side by side, each with its own deadline.
 */
import type { Logger } from '../../lib/log.js';
import type { DnsResolve } from '../../mail/dns/resolver.js';
import { headerValue } from '../../mail/mime/headers.js';
import { parseMessage, type BodyPart, type ParsedMessage } from '../../mail/mime/structure.js';
import { decodeBody, decodeWords } from '../../mail/mime/text.js';
import { authSymbols } from './rules/auth.js';
import { clientSymbols } from './rules/client.js';
import { blocklistSymbols, type Blocklist } from './rules/dnsbl.js';
import { addressDomain } from './rules/domains.js';
import { fromNameSymbols, subjectSymbols } from './rules/headers.js';
import { lookupWith } from './rules/lookup.js';
import { mimeSymbols } from './rules/mime.js';
import { MAX_PHRASE_TEXT, phraseSymbols } from './rules/phrases.js';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

export type { Blocklist } from './rules/dnsbl.js';

/** SpamAssassin's GTUBE string (its body test GTUBE scores 1000). */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** How much decoded text is searched for links. */
const MAX_LINK_TEXT = 1 << 20;

/** GTUBE, MISSING_DATE (SpamAssassin: 1.396 with network tests) and MISSING_MID (SpamAssassin: 0.14 to 0.552). */
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

/** The rules that read only the message and its authentication results: no DNS. */
export function contentSymbols(
  input: Pick<FilterInput, 'data' | 'head' | 'auth' | 'accounts'>,
  parsed: ParsedMessage = parseMessage(input.data),
): FilterSymbol[] {
  const from = parsed.envelope.from.find((a) => a.group === undefined && a.host);
  const recipientDomains = input.accounts.map((a) => addressDomain(a.address));
  return [
    ...builtinSymbols(input),
    ...authSymbols(input.auth, from?.host ?? undefined),
    ...fromNameSymbols(parsed, recipientDomains),
    ...subjectSymbols(parsed),
    ...mimeSymbols(input.data, parsed),
    ...phraseSymbols(
      decodeWords((parsed.envelope.subject ?? '').slice(0, 1000)),
      bodyText(input.data, parsed, MAX_PHRASE_TEXT),
    ),
  ];
}

/** GTUBE and the missing fields alone, as a check: what a filter without DNS or parsing needs. */
export const builtinRules: SpamCheck = {
  name: 'rules',
  isEngine: false,
  check: (input) => Promise.resolve(builtinSymbols(input)),
};

export interface RulesDeps {
  resolve: DnsResolve;
  /** Our host name: a client claiming it in HELO is lying. */
  hostname: string;
  /** Whether a name is a domain we host (directory.hostedDomain). */
  isHosted: (name: string) => Promise<boolean>;
  blocklists: readonly Blocklist[];
  log: Logger;
  /** Deadline of each DNS lookup. */
  lookupTimeoutMs?: number;
}

/** Every built-in rule as one check of the filter: content rules, client checks and DNS blocklists. */
export function createBuiltinRules(deps: RulesDeps): SpamCheck {
  return {
    name: 'rules',
    isEngine: false,
    async check(input) {
      const parsed = parseMessage(input.data);
      const lookup = lookupWith(
        deps.resolve,
        (name, err) => deps.log.warn({ qid: input.qid, name, err }, 'DNS lookup for a spam rule failed'),
        deps.lookupTimeoutMs,
      );
      const refused = (zone: string, name: string, answer: string) =>
        deps.log.warn(
          { qid: input.qid, zone, name, answer },
          'DNS blocklist refused the query (answer 127.255.255.x): it blocks this resolver, use another in [dns] resolvers',
        );
      const from = parsed.envelope.from.find((a) => a.group === undefined && a.host)?.host;
      const domains = [addressDomain(input.mailFrom), from ?? ''].filter(Boolean);
      const [client, listed] = await Promise.all([
        clientSymbols({ ...input.client, hostname: deps.hostname, isHosted: deps.isHosted }, lookup),
        blocklistSymbols(
          deps.blocklists,
          {
            ip: input.client.ip,
            domains,
            text: deps.blocklists.some((b) => b.kind === 'uri') ? bodyText(input.data, parsed) : '',
          },
          lookup,
          refused,
        ),
      ]);
      return [...contentSymbols(input, parsed), ...client, ...listed];
    },
  };
}

/** The decoded text of the message's text parts, HTML as it is (links live in its attributes). */
export function bodyText(data: Buffer, parsed: ParsedMessage, max = MAX_LINK_TEXT): string {
  const chunks: string[] = [];
  let budget = max;
  const walk = (part: BodyPart) => {
    if (budget <= 0) return;
    if (part.children.length) return part.children.forEach(walk);
    if (part.type !== 'text' || part.disposition?.type === 'attachment') return;
    const raw = data.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + 4 * budget));
    const text = decodeBody(raw, part.encoding, part.params.charset ?? 'us-ascii').slice(0, budget);
    budget -= text.length;
    chunks.push(text);
  };
  walk(parsed.structure);
  return chunks.join('\n');
}
