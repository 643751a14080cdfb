/**
 * How the classifier's settings are chosen: the built-in rules (offline) plus the Bayes classifier,
 * counted in memory, on the training half of bench:filter's split (seed 21) split again, so that the
 * test half bench:filter reports on is never looked at. For each inner seed both folds are scored
 * (learn A score B, learn B score A) and pooled: every training-half message is scored once per
 * seed. Prints false positives and spam caught at junk score 5, for BAYES_SPAM reaching 5 at each
 * probability given (and from each probability given as where BAYES_SPAM starts).
 *
 *   npx tsx bench/filter-tune.ts [--seeds 7,8,9] [--junk-at 0.8,0.9] [--spam-from 0.5,0.55]
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../src/lib/log.js';
import { bayesProbability, DEFAULT_SCALE, probabilitySymbol } from '../src/services/filters/classifier/model.js';
import { features } from '../src/services/filters/classifier/tokenize.js';
import { createBuiltinRules } from '../src/services/filters/index.js';
import { filterInput, loadCorpus, split, type CorpusMessage } from './corpus.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '7,8,9' },
    'junk-at': { type: 'string', default: '0.8,0.9,0.95,0.99' },
    'spam-from': { type: 'string', default: String(DEFAULT_SCALE.spamFrom) },
  },
});
const JUNK = 5;
const half = split(loadCorpus(), 21).train;
const log = createLogger({ level: 'error' });
const rules = createBuiltinRules({
  resolve: () => Promise.reject(Object.assign(new Error('offline'), { code: 'ENOTFOUND' })),
  hostname: 'bench.example',
  isHosted: () => Promise.resolve(false),
  blocklists: [],
  log,
});

interface Scored {
  isSpam: boolean;
  rules: number;
  p: number;
}

/** The rules' score of each message, computed once (they do not learn). */
const ruleScore = new Map<CorpusMessage, number>();
for (const [i, m] of half.entries()) {
  const symbols = await rules.check(filterInput(m, i));
  ruleScore.set(
    m,
    symbols.reduce((n, s) => n + s.score, 0),
  );
}
const featuresOf = new Map(half.map((m) => [m, features(m.data)]));

function learnAndScore(train: CorpusMessage[], test: CorpusMessage[]): Scored[] {
  const counts = new Map<number, { spam: number; ham: number }>();
  const totals = { spam: 0, ham: 0 };
  for (const m of train) {
    const as = m.isSpam ? 'spam' : 'ham';
    totals[as]++;
    for (const f of featuresOf.get(m)!) {
      const c = counts.get(f) ?? { spam: 0, ham: 0 };
      c[as]++;
      counts.set(f, c);
    }
  }
  return test.map((m) => ({
    isSpam: m.isSpam,
    rules: ruleScore.get(m)!,
    p: bayesProbability(
      featuresOf.get(m)!.flatMap((f) => counts.get(f) ?? []),
      totals,
    ),
  }));
}

const spam = half.filter((m) => m.isSpam).length;
const ham = half.length - spam;
console.log(
  `${half.length} training-half messages (${ham} ham, ${spam} spam), each scored once per seed; junk at ${JUNK}`,
);
for (const seed of values.seeds.split(',').map(Number)) {
  const { train: a, test: b } = split(half, seed);
  const scored = [...learnAndScore(a, b), ...learnAndScore(b, a)];
  for (const junkAt of values['junk-at'].split(',').map(Number))
    for (const spamFrom of values['spam-from'].split(',').map(Number)) {
      const scale = { ...DEFAULT_SCALE, junkAt, spamFrom };
      const junk = scored.filter((s) => s.rules + (probabilitySymbol(s.p, scale)?.score ?? 0) >= JUNK);
      const fp = junk.filter((s) => !s.isSpam).length;
      console.log(
        `seed ${seed}, BAYES_SPAM from p = ${spamFrom}, at ${JUNK} from p = ${junkAt}: ${fp} false positives, ${junk.length - fp} spam caught`,
      );
    }
}
