import { createHash, randomFillSync } from 'node:crypto';

const chunkSize = 1 << 20;

/**
 * A deterministic pseudo-random byte source of `size` bytes in 1 MiB chunks: one random buffer,
 * each chunk stamped with its index so no two chunks repeat. Cheap enough that the client is
 * never the bottleneck, and replayable so the digest can be known before the upload.
 */
export function blobChunks(size: number, seed = randomFillSync(Buffer.alloc(chunkSize))): {
  chunks(): Generator<Buffer>;
  digest(): string;
} {
  function* chunks(): Generator<Buffer> {
    for (let offset = 0, i = 0; offset < size; offset += chunkSize, i++) {
      const n = Math.min(chunkSize, size - offset);
      const chunk = Buffer.from(seed.subarray(0, n));
      chunk.writeUInt32BE(i, 0);
      yield chunk;
    }
  }
  return {
    chunks,
    digest() {
      const h = createHash('sha256');
      for (const c of chunks()) h.update(c);
      return `sha256:${h.digest('hex')}`;
    },
  };
}

export function streamOf(chunks: Iterable<Buffer>): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
}
