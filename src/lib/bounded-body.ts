/** An HTTP request body read whole, within a bound: what arrives past it is not kept. */

/** The stream's bytes to its end, or undefined once they pass `max` (the stream is cancelled then). */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer | undefined> {
  const reader = body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
