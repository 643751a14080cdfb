/**
 * `npm run fuzz -- TARGET [--time 10m] [--seed N]`: runs one fuzz target (test/fuzz/targets.ts) until
 * the time is up or it fails. A failing input is shrunk by fast-check, saved under
 * test/fuzz/corpus/TARGET/ (where npm test replays it from then on) and printed. An input that takes
 * longer than a second is reported as slow: parsers must stay linear. `npm run fuzz -- --list` names the targets.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { TARGETS } from '../test/fuzz/targets.js';
import { parseDuration } from '../src/lib/units.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const name = args.find((a, i) => !a.startsWith('--') && !['--time', '--seed'].includes(args[i - 1] ?? ''));
if (args.includes('--list') || !name || !TARGETS[name]) {
  console.log(
    `usage: npm run fuzz -- TARGET [--time 10m] [--seed N]\ntargets:\n${Object.entries(TARGETS)
      .map(([n, t]) => `  ${n.padEnd(14)} ${t.description}`)
      .join('\n')}`,
  );
  process.exit(name && !TARGETS[name] ? 2 : 0);
}
const target = TARGETS[name]!;
const timeMs = parseDuration(flag('--time') ?? '1m');
if (timeMs === undefined) {
  console.error(`--time ${flag('--time')}: not a duration (write "30s", "10m")`);
  process.exit(2);
}
const seed = Number(flag('--seed') ?? Date.now() % 2 ** 31);
const SLOW_MS = 1000;
let slowest = 0;
let runs = 0;
const started = Date.now();
console.log(`fuzzing ${name} for ${flag('--time') ?? '1m'} (seed ${seed})`);
const result = fc.check(
  fc.property(target.input, (input) => {
    runs++;
    const t0 = performance.now();
    target.run(input);
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    if (ms > SLOW_MS) throw new Error(`slow input: ${Math.round(ms)} ms`);
  }),
  { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: timeMs, markInterruptAsFailure: false },
);
console.log(`${runs} inputs in ${((Date.now() - started) / 1000).toFixed(0)} s, slowest ${slowest.toFixed(1)} ms`);
if (result.failed && result.counterexample) {
  const input = result.counterexample[0] as Buffer;
  const dir = path.join(import.meta.dirname, '..', 'test', 'fuzz', 'corpus', name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`);
  writeFileSync(file, input);
  console.error(
    `FAILED after ${result.numRuns} runs (seed ${result.seed}, path ${result.counterexamplePath}): ${String(result.errorInstance)}`,
  );
  console.error(
    `input (${input.length} bytes) saved as ${path.relative(process.cwd(), file)}: ${JSON.stringify(input.toString('latin1').slice(0, 300))}`,
  );
  process.exit(1);
}
console.log('no failure');
