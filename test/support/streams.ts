/** Bytes whose value depends on their position, so a misplaced byte is visible. */
export function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 12) + seed) & 0xff;
  return out;
}

/** A stream of `bytes` in pieces of `piece` bytes, as a request body arrives. */
export function streamOf(bytes: Uint8Array, piece = 64 << 10): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.close();
      c.enqueue(bytes.subarray(at, at + piece));
      at += piece;
    },
  });
}

/** Sends `bytes`, then fails, like a client that goes away mid-body. */
export function failingStream(bytes: Uint8Array, piece = 64 << 10): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.error(new Error('connection reset'));
      c.enqueue(bytes.subarray(at, at + piece));
      at += piece;
    },
  });
}

export async function collect(stream: ReadableStream<Uint8Array> | undefined): Promise<Uint8Array> {
  if (!stream) throw new Error('no stream: the key is missing');
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
