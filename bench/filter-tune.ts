/**
 * How the classifier's junk threshold was chosen: the built-in rules (offline) plus the Bayes
 * classifier, counted in memory, on the training half of bench:filter's split (seed 21) split again
 * (seed 7), so that the test half bench:filter reports on is never looked at. Prints false positives
 * and spam caught at junk score 5 for BAYES_SPAM reaching 5 at each probability given.
 *
 *   npx tsx bench/filter-tune.ts [--junk-at 0.9,0.95,0.99,0.999]
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../src/lib/log.js';
import { bayesProbability, DEFAULT_SCALE, probabilitySymbol } from '../src/services/filters/classifier/model.js';
import { features } from '../src/services/filters/classifier/tokenize.js';
import { createBuiltinRules } from '../src/services/filters/index.js';
import { filterInput, loadCorpus, split } from './corpus.js';

const { values } = parseArgs({ options: { 'junk-at': { type: 'string', default: '0.8,0.9,0.95,0.99,0.999' } } });
const JUNK = 5;
const { train, test } = split(split(loadCorpus(), 21).train, 7);
const log = createLogger({ level: 'error' });
const rules = createBuiltinRules({
  resolve: () => Promise.reject(Object.assign(new Error('offline'), { code: 'ENOTFOUND' })),
  hostname: 'bench.example',
  isHosted: () => Promise.resolve(false),
  blocklists: [],
  log,
});

const counts = new Map<number, { spam: number; ham: number }>();
const totals = { spam: 0, ham: 0 };
for (const m of train) {
  const as = m.isSpam ? 'spam' : 'ham';
  totals[as]++;
  for (const f of features(m.data)) {
    const c = counts.get(f) ?? { spam: 0, ham: 0 };
    c[as]++;
    counts.set(f, c);
  }
}

const scored: Array<{ isSpam: boolean; rules: number; p: number }> = [];
for (const [i, m] of test.entries()) {
  const symbols = await rules.check(filterInput(m, i));
  const known = features(m.data).flatMap((f) => counts.get(f) ?? []);
  scored.push({
    isSpam: m.isSpam,
    rules: symbols.reduce((n, s) => n + s.score, 0),
    p: bayesProbability(known, totals),
  });
}

const ham = scored.filter((s) => !s.isSpam).length;
const spam = scored.length - ham;
console.log(`trained on ${train.length}, scored ${scored.length} (${ham} ham, ${spam} spam); junk at ${JUNK}`);
for (const junkAt of values['junk-at'].split(',').map(Number)) {
  const scale = { ...DEFAULT_SCALE, junkAt };
  const junk = scored.filter((s) => s.rules + (probabilitySymbol(s.p, scale)?.score ?? 0) >= JUNK);
  const fp = junk.filter((s) => !s.isSpam).length;
  const caught = junk.length - fp;
  console.log(
    `BAYES_SPAM at ${JUNK} from p = ${junkAt}: ${fp} / ${ham} false positives, ${caught} / ${spam} spam caught (${((100 * caught) / spam).toFixed(1)} %)`,
  );
}
