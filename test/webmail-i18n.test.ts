/** The webmail's message catalogues: every English text the code passes to t() has an entry in each. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const dir = path.join(import.meta.dirname, '..', 'web', 'mail');

describe('webmail message catalogues', () => {
  it('translate every text the code shows', () => {
    const texts = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => /\.tsx?$/.test(f))) {
      const code = readFileSync(path.join(dir, file), 'utf8');
      for (const m of code.matchAll(/\bt\(\s*'((?:[^'\\]|\\.)*)'/g)) texts.add(m[1]!);
    }
    assert.ok(texts.size > 50);
    for (const lang of readdirSync(path.join(dir, 'lang'))) {
      const catalogue = JSON.parse(readFileSync(path.join(dir, 'lang', lang), 'utf8')) as Record<string, string>;
      const missing = [...texts].filter((t) => !(t in catalogue));
      assert.deepEqual(missing, [], `${lang} lacks these`);
    }
  });
});
