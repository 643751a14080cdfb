import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerEnd } from '../../mail/mime/headers.js';
import { top } from './commands.js';

/** TOP on the whole message at once: the header block, then `lines` lines of the body. */
function reference(content: Buffer, lines: number): Buffer {
  let end = headerEnd(content);
  for (let n = 0; n < lines && end < content.length; n++) {
    const nl = content.indexOf(0x0a, end);
    end = nl < 0 ? content.length : nl + 1;
  }
  return content.subarray(0, end);
}

async function streamed(
  content: Buffer,
  lines: number,
  chunkSizes: number[],
): Promise<{ out: Buffer; chunksRead: number }> {
  let chunksRead = 0;
  async function* chunks() {
    for (let pos = 0, i = 0; pos < content.length; i++) {
      const size = chunkSizes[i % chunkSizes.length]!;
      chunksRead++;
      yield content.subarray(pos, pos + size);
      pos += size;
    }
  }
  const parts: Buffer[] = [];
  for await (const part of top(chunks(), lines)) parts.push(part);
  return { out: Buffer.concat(parts), chunksRead };
}

describe('POP3 TOP, streamed', () => {
  const messages = [
    'Subject: a\r\nFrom: b@example.com\r\n\r\none\r\ntwo\r\nthree\r\n',
    'Subject: a\n\nbare\nLF\nlines\n',
    '\r\nno header\r\nat all\r\n',
    'Subject: no body\r\n',
    'Subject: x\r\n\r\n\r\n\r\nempty lines in the body\r\n',
    'Subject: cr\r\n\r\nlast line without CRLF',
  ];
  it('sends what TOP on the whole message would, whatever the chunks', async () => {
    for (const text of messages) {
      const content = Buffer.from(text);
      for (const lines of [0, 1, 2, 5, 100]) {
        for (const sizes of [[1], [2], [3, 1], [7], [content.length]]) {
          const { out } = await streamed(content, lines, sizes);
          assert.equal(
            out.toString(),
            reference(content, lines).toString(),
            `${JSON.stringify(text)} lines=${lines} chunks=${sizes}`,
          );
        }
      }
    }
  });
  it('stops reading once the lines are sent', async () => {
    const content = Buffer.from(`Subject: big\r\n\r\nfirst\r\n${'x'.repeat(1000)}\r\n`);
    const { chunksRead } = await streamed(Buffer.concat([content, Buffer.alloc(1_000_000, 0x61)]), 1, [64]);
    assert.ok(chunksRead < 5, `read ${chunksRead} chunks of 64 bytes`);
  });
});
