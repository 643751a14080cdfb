/**
 * The model choice behind the classifier: Bayes over OSB features against FTRL-Proximal logistic
 * regression on the same features, on the training half of bench:filter's split (seed 21) split
 * again (seed 7), so that the test half is never looked at. Prints spam caught at the probability
 * threshold that lets through 1, 3, 5 and 10 false positives.
 *
 *   npx tsx bench/filter-models.ts
 */
import {
  bayesProbability,
  ftrlPredict,
  ftrlUpdate,
  type FtrlWeight,
} from '../src/services/filters/classifier/model.js';
import { features } from '../src/services/filters/classifier/tokenize.js';
import { loadCorpus, split, type CorpusMessage } from './corpus.js';

const { train: half } = split(loadCorpus(), 21);
const { train, test } = split(half, 7);
const feats = new Map<CorpusMessage, number[]>();
for (const m of [...train, ...test]) feats.set(m, features(m.data));

function report(name: string, probability: (m: CorpusMessage) => number): void {
  const ham = test
    .filter((m) => !m.isSpam)
    .map(probability)
    .sort((a, b) => b - a);
  const spam = test.filter((m) => m.isSpam).map(probability);
  const at = [1, 3, 5, 10].map((k) => `${spam.filter((p) => p > ham[k]!).length} at ${k} FP`);
  process.stdout.write(`${name}: spam caught of ${spam.length} (${ham.length} ham): ${at.join(', ')}\n`);
}

const counts = new Map<number, { spam: number; ham: number }>();
const totals = { spam: 0, ham: 0 };
for (const m of train) {
  totals[m.isSpam ? 'spam' : 'ham']++;
  for (const f of feats.get(m)!) {
    const c = counts.get(f) ?? { spam: 0, ham: 0 };
    c[m.isSpam ? 'spam' : 'ham']++;
    counts.set(f, c);
  }
}
report('Bayes (OSB)', (m) =>
  bayesProbability(
    feats
      .get(m)!
      .map((f) => counts.get(f))
      .filter((c) => c !== undefined),
    totals,
  ),
);
for (const passes of [1, 3]) {
  const weights = new Map<number, FtrlWeight>();
  for (let i = 0; i < passes; i++) for (const m of train) ftrlUpdate(feats.get(m)!, m.isSpam ? 1 : 0, weights);
  report(`FTRL-Proximal, ${passes} pass${passes > 1 ? 'es' : ''}`, (m) => ftrlPredict(feats.get(m)!, weights));
}
