/** swaks (Debian's SMTP test client) against a listener on 127.0.0.1, and the message files it sends. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './python.js';

/**
 * Runs swaks to 127.0.0.1:port with `args` (from, to, data, auth …) and answers the server's last reply
 * before QUIT's 221 — the reply to the end of DATA, or the refusal that ended the dialogue.
 */
export async function swaksReply(port: number, args: string[]): Promise<string> {
  const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(port), '--ehlo', 'client.example', ...args]);
  const replies = r.stdout.split('\n').filter((l) => /^ *(<-|<\*\*|<~|<~\*) +\d{3} /.test(l));
  const last = replies.filter((l) => !/ 221 /.test(l)).at(-1);
  assert.ok(last, `no reply from the server:\n${r.stdout}\n${r.stderr}`);
  return last.replace(/^ *(<-|<\*\*|<~|<~\*) +/, '');
}

/** A complete message from x@sender.example to ann@example.com in `dir`, as swaks's --data arguments. */
export function messageFile(dir: string, name: string, body: string): string[] {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `From: x@sender.example\r\nTo: ann@example.com\r\nSubject: ${name}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${name}@sender.example>\r\n\r\n${body}\r\n`,
  );
  return ['--data', file];
}
