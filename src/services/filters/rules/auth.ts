/**
 * Sender authentication as spam symbols: what SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and
 * ARC (RFC 8617) found on port 25. A pass weighs a little against spam, a failure a little for it —
 * none is decisive alone, as in SpamAssassin, whose names and default weights (50_scores.cf, the
 * "network tests on, no Bayes" column) these follow unless a comment says otherwise.
 */
import type { AuthFacts, FilterSymbol } from '../types.js';
import { sameOrganization } from './domains.js';

export function authSymbols(auth: AuthFacts | undefined, fromDomain: string | undefined): FilterSymbol[] {
  if (!auth) return [];
  const out: FilterSymbol[] = [];
  const spf = SPF[auth.spf.toLowerCase()];
  if (spf) out.push(spf);
  out.push(...dkimSymbols(auth.dkim, fromDomain));
  switch (auth.dmarc.toLowerCase()) {
    case 'pass':
      out.push({ name: 'DMARC_PASS', score: -0.001, why: 'DMARC passed for the From domain' });
      break;
    case 'fail':
      // SpamAssassin weighs a failure by the domain's policy: DMARC_NONE 0.898, DMARC_QUAR 1.198,
      // DMARC_REJECT 1.797; the policy itself is acted on by [authentication], so the middle one.
      out.push({ name: 'DMARC_FAIL', score: 1.2, why: 'the From domain publishes DMARC and this message fails it' });
      break;
    case 'none':
      out.push({ name: 'DMARC_MISSING', score: 0.001, why: 'the From domain publishes no DMARC policy' });
      break;
  }
  switch (auth.arc.toLowerCase()) {
    // SpamAssassin gives ARC no weight by default; these are rspamd's ARC_ALLOW and ARC_REJECT, scaled down
    // as a pass proves only that the forwarders signed, not who wrote the message.
    case 'pass':
      out.push({ name: 'ARC_VALID', score: -0.1, why: 'the ARC chain of the forwarders validates' });
      break;
    case 'fail':
      out.push({ name: 'ARC_INVALID', score: 1, why: 'the ARC chain is broken (rspamd ARC_REJECT)' });
      break;
  }
  return out;
}

const SPF: Record<string, FilterSymbol> = {
  pass: { name: 'SPF_PASS', score: -0.001, why: 'SPF allows the client to send for the envelope sender domain' },
  fail: { name: 'SPF_FAIL', score: 0.919, why: 'SPF of the envelope sender domain does not allow the client' },
  softfail: { name: 'SPF_SOFTFAIL', score: 0.972, why: 'SPF of the envelope sender domain softfails the client' },
  neutral: { name: 'SPF_NEUTRAL', score: 0.652, why: 'SPF of the envelope sender domain is neutral about the client' },
  none: { name: 'SPF_NONE', score: 0.001, why: 'the envelope sender domain publishes no SPF record' },
};

/**
 * DKIM_VALID for any good signature, DKIM_VALID_AU when one is by the From domain (relaxed alignment: the same
 * registrable domain, RFC 7489 §3.1.1), DKIM_INVALID when signatures exist and none verifies. A temporary error
 * (temperror) says nothing about the signature.
 */
function dkimSymbols(results: AuthFacts['dkim'], fromDomain: string | undefined): FilterSymbol[] {
  const judged = results.filter((d) => d.result !== 'none' && d.result !== 'temperror');
  const valid = judged.filter((d) => d.result === 'pass');
  if (judged.length === 0) return [];
  if (valid.length === 0)
    return [{ name: 'DKIM_INVALID', score: 0.1, why: 'the message is DKIM-signed but no signature verifies' }];
  const out: FilterSymbol[] = [{ name: 'DKIM_VALID', score: -0.1, why: 'a DKIM signature verifies' }];
  const from = fromDomain?.toLowerCase();
  if (from && valid.some((d) => d.domain !== '' && sameOrganization(d.domain, from)))
    out.push({ name: 'DKIM_VALID_AU', score: -0.1, why: 'a DKIM signature of the From domain verifies' });
  return out;
}
