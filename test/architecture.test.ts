/**
 * Enforces the import rules of docs/architecture.md: data flows listeners → protocols → services →
 * store, over mail/ and lib/. Reads every import under src/ and names the file and line of any edge
 * the table does not allow.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';

type Layer = string; // 'lib', 'config', 'mail', 'store', 'store/index', 'services/x', 'protocols/shared', 'protocols/x', 'listeners', 'root'

function layerOf(file: string): Layer {
  const rel = path.relative('src', file).split(path.sep);
  const [top, second] = rel;
  if (rel.length === 1 || top === 'cli' || top === 'compose') return 'root';
  if (top === 'store') return rel.length === 2 && second === 'index.ts' ? 'store/index' : 'store';
  if (top === 'services' || top === 'protocols') return `${top}/${second}`;
  return top!;
}

/** May `from` import `to`? `typeOnly` when the import is erased at run time. */
function allowed(from: Layer, to: Layer, typeOnly: boolean): boolean {
  if (from === to || from === 'root') return true;
  const base = (l: Layer) => l.split('/')[0]!;
  switch (base(from)) {
    case 'lib':
      return false;
    case 'config':
      return to === 'lib';
    case 'mail':
      return to === 'lib';
    case 'store':
      return to === 'lib' || to === 'mail' || base(to) === 'store' || (typeOnly && to === 'config');
    case 'services':
      if (to === 'lib' || to === 'mail' || to === 'store/index') return true;
      return typeOnly && (to === 'config' || base(to) === 'services');
    case 'protocols':
      if (from === 'protocols/shared') return to === 'lib' || to === 'mail' || (typeOnly && base(to) === 'services');
      if (to === 'lib' || to === 'mail' || to === 'protocols/shared' || base(to) === 'services') return true;
      return typeOnly && (to === 'store/index' || to === 'config');
    case 'listeners':
      return to === 'lib' || (typeOnly && (to === 'config' || to === 'protocols/shared'));
    default:
      return false;
  }
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) sources(full, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

it('imports follow the layer rules', () => {
  const problems: string[] = [];
  for (const file of sources('src')) {
    if (file.includes(`${path.sep}contract${path.sep}`)) continue; // the store's behaviour suite
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, i) => {
      const m =
        /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/.exec(text) ??
        /^\s*import\s+['"]([^'"]+)['"]/.exec(text);
      if (!m) return;
      const spec = m[3] ?? m[1]!;
      if (!spec.startsWith('.')) return; // node:* and packages
      const typeOnly = m[2] !== undefined || /^\s*import\s+\{\s*(type\s+[^,}]+,?\s*)+\}/.test(text);
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      const from = layerOf(file);
      const to = layerOf(path.relative(process.cwd(), target));
      if (!allowed(from, to, typeOnly))
        problems.push(
          `${file}:${i + 1}: ${from} may not import ${to}${typeOnly ? ' (even as types)' : ' at run time'}: ${text.trim()}`,
        );
    });
  }
  assert.deepEqual(problems, []);
});
