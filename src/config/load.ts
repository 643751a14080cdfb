/**
 * Reads postern.toml, validates it against the schema and returns a frozen Config. Every problem is
 * reported as one line naming the file, the key and the fix; all problems are reported at once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { MailError } from '../lib/errors.js';
import { ConfigSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'postern.toml';

/** The config path from --config, else $POSTERN_CONFIG, else ./postern.toml. */
export function configPath(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.POSTERN_CONFIG ?? DEFAULT_CONFIG_FILE);
}

export class ConfigError extends MailError {
  constructor(readonly problems: string[]) {
    super('CONFIG', problems.join('\n'));
  }
}

export function loadConfig(file: string): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError([
        `${file}: no such file — run "postern init --hostname mail.example.com" to write one, or pass --config FILE`,
      ]);
    }
    throw new ConfigError([`${file}: cannot read (${code ?? String(err)})`]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Readonly<Config> {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0];
      throw new ConfigError([`${file}:${err.line}:${err.column}: TOML syntax error: ${first}`]);
    }
    throw err;
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(result.error.issues.map((issue) => describeIssue(file, raw, issue)));
  const config = result.data;
  // A relative data_dir is relative to the config file, not to wherever the command was started.
  config.data_dir = path.resolve(path.dirname(file), config.data_dir);
  return deepFreeze(config);
}

function describeIssue(file: string, raw: unknown, issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const parent = issue.path.length ? `${where}.` : '';
    return issue.keys
      .map((key) => {
        const known = knownKeys(issue.path);
        const hint = closest(key, known);
        const fix = hint ? `did you mean "${parent}${hint}"?` : `remove it (known keys here: ${known.join(', ')})`;
        return `${file}: unknown key "${parent}${key}" — ${fix}`;
      })
      .join('\n');
  }
  const value = valueAt(raw, issue.path);
  if (value === undefined) {
    const example =
      issue.path[0] === 'hostname'
        ? ' — add hostname = "mail.example.com"'
        : issue.code === 'custom'
          ? ` — ${issue.message}`
          : '';
    return `${file}: ${where} is missing${example}`;
  }
  if (issue.code === 'invalid_type')
    return `${file}: ${where} must be ${article(issue.expected)}, not ${JSON.stringify(value)}`;
  if (issue.code === 'invalid_value')
    return `${file}: ${where} = ${JSON.stringify(value)} is not one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  const message = issue.message.startsWith('Invalid') ? issue.message.toLowerCase() : issue.message;
  return `${file}: ${where} = ${JSON.stringify(value)} ${message}`;
}

function article(type: string): string {
  return type === 'array' ? 'a list' : type === 'object' ? 'a table' : `a ${type}`;
}

function formatPath(p: PropertyKey[]): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out || '(top level)';
}

function valueAt(raw: unknown, p: PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function knownKeys(p: PropertyKey[]): string[] {
  let schema: unknown = ConfigSchema;
  for (const seg of p) {
    schema = unwrap(schema);
    if (typeof seg === 'number') schema = (schema as { element?: unknown }).element;
    else schema = (schema as { shape?: Record<string, unknown> }).shape?.[String(seg)];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as
    { def?: { innerType?: unknown; in?: unknown; schema?: unknown }; shape?: unknown; element?: unknown } | undefined;
  for (let i = 0; i < 10 && s && !s.shape && !s.element; i++) {
    const next = s.def?.innerType ?? s.def?.in ?? s.def?.schema;
    if (!next) break;
    s = next as typeof s;
  }
  return s;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
