/**
 * The classifier's arithmetic, pure: a Bayesian token filter over hashed features (counts of spam
 * and ham messages each feature was seen in, Robinson's smoothing per feature and Fisher's
 * chi-square to combine them, as SpamBayes and rspamd do), and the mapping of its probability to a
 * filter symbol. A hashed logistic regression trained online (FTRL-Proximal, as Stalwart) is kept
 * here too: the comparison of both on the SpamAssassin corpus is in docs/classifier.md.
 */
import type { FilterSymbol } from '../types.js';

/** How many learnt spam and ham messages carried one feature (global and account counts summed). */
export interface FeatureCounts {
  spam: number;
  ham: number;
}

export interface Totals {
  spam: number;
  ham: number;
}

/** Robinson's strength of the prior (s) and the prior itself (x). */
const PRIOR_STRENGTH = 0.5;
const PRIOR = 0.5;
/** Features whose probability is closer than this to 0.5 say nothing and are left out. */
const MIN_DEVIATION = 0.1;
/** At most this many features, the most telling, enter the combination. */
const MAX_CLUES = 300;

/**
 * The probability that a message is spam from its features' counts (features never seen are
 * absent from `counts`). 0.5 when nothing is known.
 */
export function bayesProbability(counts: Iterable<FeatureCounts>, totals: Totals): number {
  if (totals.spam === 0 || totals.ham === 0) return PRIOR;
  const clues: number[] = [];
  for (const c of counts) {
    const n = c.spam + c.ham;
    if (n === 0) continue;
    const ps = c.spam / totals.spam;
    const ph = c.ham / totals.ham;
    const p = ps / (ps + ph);
    const f = (PRIOR_STRENGTH * PRIOR + n * p) / (PRIOR_STRENGTH + n);
    if (Math.abs(f - PRIOR) >= MIN_DEVIATION) clues.push(Math.min(0.9999, Math.max(0.0001, f)));
  }
  if (clues.length === 0) return PRIOR;
  if (clues.length > MAX_CLUES) {
    clues.sort((a, b) => Math.abs(b - PRIOR) - Math.abs(a - PRIOR));
    clues.length = MAX_CLUES;
  }
  // Fisher: -2 Σ ln p is chi-square with 2n degrees of freedom under the hypothesis of no signal.
  let lnSpam = 0;
  let lnHam = 0;
  for (const f of clues) {
    lnSpam += Math.log(1 - f);
    lnHam += Math.log(f);
  }
  const s = 1 - chi2Q(-2 * lnSpam, 2 * clues.length);
  const h = 1 - chi2Q(-2 * lnHam, 2 * clues.length);
  return (1 + s - h) / 2;
}

/** The upper tail of the chi-square distribution for an even number of degrees of freedom. */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let sum = Math.exp(-m);
  let term = sum;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/**
 * How the probability turns into a symbol: BAYES_SPAM from `spamFrom` (+0.5), reaching `junkScore` at
 * `junkAt` and at most `maxSpam`; BAYES_HAM from 1 - `hamFrom` down (-0.1), reaching `maxHam` at
 * 1 - `junkAt`; nothing in between. The score grows with the log odds (each factor of ten nearer
 * certainty adds as much).
 */
export interface SymbolScale {
  spamFrom: number;
  hamFrom: number;
  junkAt: number;
  junkScore: number;
  maxSpam: number;
  maxHam: number;
}

/**
 * Junk from p = 0.9, with Robinson's s = 0.5 and at most 300 clues, chosen on the training half of
 * the corpus split again (bench/filter-tune.ts): 5 of 1,040 ham let through (0.5 %) and 92 % of
 * spam caught there; s = 1 with 400 clues and junk from p = 0.999 caught 90.5 % at 6. BAYES_SPAM
 * from p = 0.5, as SpamAssassin's BAYES_50 (+0.8 from 0.4): an undecided classifier leans to spam
 * next to body phrases (1 to 3 more spam of 948 caught on each of three inner splits, no more false
 * positives); BAYES_HAM from p = 0.45.
 */
export const DEFAULT_SCALE: SymbolScale = {
  spamFrom: 0.5,
  hamFrom: 0.55,
  junkAt: 0.9,
  junkScore: 5,
  maxSpam: 6,
  maxHam: -3,
};

/** BAYES_SPAM or BAYES_HAM with a score growing with the probability's distance from 0.5. */
export function probabilitySymbol(p: number, scale: SymbolScale = DEFAULT_SCALE): FilterSymbol | undefined {
  const pct = `${Math.round(p * 10000) / 100}%`;
  const lg = (q: number) => -Math.log10(Math.max(1e-12, 1 - q));
  const reach = (q: number, from: number) => (lg(q) - lg(from)) / (lg(scale.junkAt) - lg(from));
  if (p >= scale.spamFrom) {
    const score = round(0.5 + (scale.junkScore - 0.5) * reach(p, scale.spamFrom));
    return { name: 'BAYES_SPAM', score: Math.min(score, scale.maxSpam), why: `classifier: spam probability ${pct}` };
  }
  if (1 - p >= scale.hamFrom) {
    const score = round(-0.1 + (scale.maxHam + 0.1) * reach(1 - p, scale.hamFrom));
    return { name: 'BAYES_HAM', score: Math.max(score, scale.maxHam), why: `classifier: spam probability ${pct}` };
  }
  return undefined;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** One weight of the FTRL-Proximal logistic regression: its accumulated gradient z and squared gradients n. */
export interface FtrlWeight {
  z: number;
  n: number;
}

export interface FtrlParams {
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
}

export const FTRL_DEFAULTS: FtrlParams = { alpha: 0.1, beta: 1, l1: 0.5, l2: 1 };

function ftrlW(w: FtrlWeight | undefined, p: FtrlParams): number {
  if (!w || Math.abs(w.z) <= p.l1) return 0;
  return -(w.z - Math.sign(w.z) * p.l1) / ((p.beta + Math.sqrt(w.n)) / p.alpha + p.l2);
}

/** The spam probability of a message with these (binary) features under the FTRL weights. */
export function ftrlPredict(
  features: readonly number[],
  weights: ReadonlyMap<number, FtrlWeight>,
  p: FtrlParams = FTRL_DEFAULTS,
): number {
  let dot = 0;
  for (const f of features) dot += ftrlW(weights.get(f), p);
  const scale = 1 / Math.sqrt(Math.max(1, features.length));
  return 1 / (1 + Math.exp(-Math.max(-35, Math.min(35, dot * scale * 10))));
}

/** One online step of FTRL-Proximal (McMahan et al. 2013, algorithm 1) for a message learnt as spam (1) or ham (0). */
export function ftrlUpdate(
  features: readonly number[],
  label: 0 | 1,
  weights: Map<number, FtrlWeight>,
  p: FtrlParams = FTRL_DEFAULTS,
): void {
  const prob = ftrlPredict(features, weights, p);
  const scale = 10 / Math.sqrt(Math.max(1, features.length));
  const g = (prob - label) * scale;
  for (const f of features) {
    const w = weights.get(f) ?? { z: 0, n: 0 };
    const sigma = (Math.sqrt(w.n + g * g) - Math.sqrt(w.n)) / p.alpha;
    w.z += g - sigma * ftrlW(w, p);
    w.n += g * g;
    weights.set(f, w);
  }
}
