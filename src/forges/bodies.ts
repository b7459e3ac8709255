/** Body helpers both forge clients use. */

/** The marker is an HTML comment, invisible when rendered; it must be in the body to be found. */
export function withMarker(marker: string, body: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
}

/** Reads a byte stream, giving up (null) as soon as it passes `max` bytes. */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer | null> {
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Reads a byte stream to its end, keeping only its last `max` bytes (a CI log's tail is where
 * a failure ends up). `truncated` says whether anything before them was dropped.
 */
export async function readTail(body: ReadableStream<Uint8Array> | null, max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  if (!body) return { bytes: Buffer.alloc(0), truncated: false };
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let held = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    held += value.byteLength;
    while (held > max && chunks.length > 0) {
      const over = held - max;
      const first = chunks[0]!;
      truncated = true;
      if (first.byteLength <= over) {
        chunks.shift();
        held -= first.byteLength;
      } else {
        chunks[0] = first.subarray(over);
        held -= over;
      }
    }
  }
  return { bytes: Buffer.concat(chunks, held), truncated };
}
