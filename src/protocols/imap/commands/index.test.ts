import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { COMMAND_LIST, COMMANDS } from './index.js';

it('registers each command name once', () => {
  const names = COMMAND_LIST.map((c) => c.name);
  assert.equal(COMMANDS.size, names.length, `registered twice: ${names.filter((n, i) => names.indexOf(n) !== i)}`);
});

it('command modules do not import session.ts (they see the session as ImapContext)', () => {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    assert.doesNotMatch(text, /from '\.\.\/session\.js'/, file);
  }
});
