/**
 * Enforces the import rules of docs/architecture.md: data flows listeners → protocols → services →
 * store, over mail/ and lib/. Reads every import under src/ with the TypeScript parser (so an import
 * written over several lines, an `export … from` or an `import()` is seen like any other), names the
 * file and line of any edge the table does not allow, and fails on import cycles between folders.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import ts from 'typescript';

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

/**
 * The folder a file belongs to for the cycle check: a service, a protocol, a part of mail/ (its
 * subfolders, or mail/ itself for the files at its top), or a top-level folder. Folders inside one
 * protocol or service (imap/commands) are one unit: they are cut for reading, not layered.
 */
function folderOf(file: string): string {
  const rel = path.relative('src', file).split(path.sep);
  const [top, second] = rel;
  if (rel.length === 1) return 'main';
  if (top === 'services' || top === 'protocols') return `${top}/${second}`;
  if (top === 'mail' || top === 'store') return rel.length > 2 ? `${top}/${second}` : top;
  return top!;
}

interface Edge {
  file: string;
  line: number;
  spec: string;
  target: string;
  typeOnly: boolean;
  text: string;
}

/** Every relative import, re-export and import() of a file, read from its syntax tree. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: Edge[] = [];
  const add = (node: ts.Node, specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    const spec = specifier.text;
    if (!spec.startsWith('.')) return; // node:* and packages
    const target = path.relative(process.cwd(), path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    edges.push({ file, line, spec, target, typeOnly, text: node.getText(source).replace(/\s+/g, ' ') });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes =
        named !== undefined && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && allNamedTypes));
      add(node, node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const allTypes = clause !== undefined && ts.isNamedExports(clause) && clause.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier, node.isTypeOnly || allTypes);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(node, arg.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) sources(full, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const edges = sources('src')
  .filter((file) => !file.includes(`${path.sep}contract${path.sep}`)) // the store's behaviour suite
  .flatMap(importsOf);

it('imports follow the layer rules', () => {
  const problems: string[] = [];
  for (const e of edges) {
    const from = layerOf(e.file);
    const to = layerOf(e.target);
    if (!allowed(from, to, e.typeOnly))
      problems.push(
        `${e.file}:${e.line}: ${from} may not import ${to}${e.typeOnly ? ' (even as types)' : ' at run time'}: ${e.text}`,
      );
  }
  assert.deepEqual(problems, []);
});

it('the reader sees imports written over several lines, re-exports and import()', () => {
  const seen = importsOf('test/fixtures/architecture/imports.ts').map((e) => [e.spec, e.typeOnly]);
  assert.deepEqual(seen, [
    ['./a.js', false],
    ['./b.js', true],
    ['./c.js', true],
    ['./d.js', false],
    ['./e.js', false],
    ['./f.js', true],
    ['./g.js', false],
    ['./h.js', true],
  ]);
});

/** Strongly connected groups of folders (Tarjan), each listed with the imports that close it. */
function folderCycles(list: Edge[]): string[] {
  const graph = new Map<string, Map<string, Edge>>();
  for (const e of list) {
    const a = folderOf(e.file);
    const b = folderOf(e.target);
    if (a === b) continue;
    const out = graph.get(a) ?? new Map<string, Edge>();
    if (!out.has(b)) out.set(b, e);
    graph.set(a, out);
    if (!graph.has(b)) graph.set(b, new Map());
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!.keys()) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length < 2) return;
    const inGroup = new Set(group);
    const why = group.flatMap((a) =>
      [...graph.get(a)!].filter(([b]) => inGroup.has(b)).map(([b, e]) => `${a} → ${b} (${e.file}:${e.line})`),
    );
    found.push(`cycle between ${group.sort().join(', ')}: ${why.join('; ')}`);
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}

it('no import cycle between folders', () => {
  assert.deepEqual(folderCycles(edges), []);
});

/**
 * Size bounds that keep each file and function readable in one sitting: no file under src/ over 500
 * lines, no function in run-time code over 100 lines (a data table is an object, not a function; test
 * suites, whose describe blocks are lists of cases, are held to the file bound only).
 */
it('no file in src/ over 500 lines, no function over 100 lines', () => {
  const problems: string[] = [];
  const all = (dir: string, out: string[] = []): string[] => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) all(full, out);
      else if (e.name.endsWith('.ts')) out.push(full);
    }
    return out;
  };
  for (const file of all('src')) {
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > 500) problems.push(`${file}: ${lines} lines (at most 500)`);
    if (file.endsWith('.test.ts') || file.includes(`${path.sep}contract${path.sep}`)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.end).line;
        const name = 'name' in node && node.name ? node.name.getText(source) : '(function)';
        if (last - first + 1 > 100)
          problems.push(`${file}:${first + 1}: ${name} is ${last - first + 1} lines (at most 100)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(problems, []);
});
