/**
 * The fuzz targets (test/fuzz/targets.ts), briefly and deterministically: a fixed seed and a few
 * hundred generated inputs each, then every saved input under test/fuzz/corpus/<target>/ (the
 * crashes long runs found, and hand-made hostile inputs). `npm run fuzz -- TARGET --time 10m` runs one for longer.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TARGETS } from './fuzz/targets.js';

const CORPUS = path.join(import.meta.dirname, 'fuzz', 'corpus');
const SEED = 20261202;
const RUNS = Number(process.env.POSTERN_FUZZ_RUNS ?? 300);

describe('fuzzing (fixed seed)', () => {
  for (const [name, target] of Object.entries(TARGETS)) {
    it(`${name}: ${target.description}`, () => {
      fc.assert(
        fc.property(target.input, (input) => target.run(input)),
        { seed: SEED, numRuns: RUNS },
      );
      const dir = path.join(CORPUS, name);
      const saved = existsSync(dir) ? readdirSync(dir).sort() : [];
      for (const file of saved) {
        assert.doesNotThrow(() => target.run(readFileSync(path.join(dir, file))), `corpus ${name}/${file}`);
      }
    });
  }
});
