import type { Hash } from 'node:crypto';
import { OciError } from '../oci/errors.ts';

export interface MeterOptions {
  /** Fed every byte that passes, in order. */
  hash?: Hash;
  /** The number of bytes the client declared; more or fewer is BLOB_UPLOAD_INVALID. */
  expected?: number;
}

/**
 * Passes a request body through, hashing and counting it. A body that breaks off (client gone,
 * lying Content-Length) surfaces as BLOB_UPLOAD_INVALID so the driver can roll the chunk back and
 * the client gets a 4xx, not a 500. Any async iterable will do: a web stream, or a runtime's own
 * request stream (cheaper on Node).
 */
export async function* meter(body: AsyncIterable<Uint8Array>, opts: MeterOptions = {}): AsyncGenerator<Uint8Array> {
  const { hash, expected } = opts;
  let count = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch {
        throw new OciError('BLOB_UPLOAD_INVALID', 'the request body was cut off before its end');
      }
      if (next.done) break;
      const chunk = next.value;
      count += chunk.byteLength;
      if (expected !== undefined && count > expected) {
        throw new OciError('SIZE_INVALID', `received more than the ${expected} bytes declared`);
      }
      hash?.update(chunk);
      yield chunk;
    }
  } finally {
    // Stopped early (an error here or in the consumer): release the source.
    await iterator.return?.().catch(() => undefined);
  }
  if (expected !== undefined && count !== expected) {
    throw new OciError('SIZE_INVALID', `received ${count} bytes where ${expected} were declared`, {
      detail: { received: count, declared: expected },
    });
  }
}

/**
 * Reads a bounded body whole (manifests); beyond `limit` bytes it stops reading and throws. The
 * bytes land in one buffer, sized by the declared `Content-Length` when there is one, so a
 * manifest costs its size once rather than its chunks plus a copy of them.
 */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number, contentLength?: string | null): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const declared = contentLength != null && /^\d{1,15}$/.test(contentLength.trim()) ? Number(contentLength) : undefined;
  let out = new Uint8Array(Math.min(limit, declared ?? initialCapacity));
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch {
      throw new OciError('MANIFEST_INVALID', 'the request body was cut off before its end');
    }
    if (r.done) break;
    if (size + r.value.byteLength > limit) {
      await reader.cancel().catch(() => undefined);
      throw new OciError('SIZE_INVALID', `manifest is larger than the ${limit} byte limit`, { status: 413 });
    }
    if (size + r.value.byteLength > out.byteLength) {
      const grown = new Uint8Array(Math.min(limit, Math.max(2 * out.byteLength, size + r.value.byteLength)));
      grown.set(out.subarray(0, size));
      out = grown;
    }
    out.set(r.value, size);
    size += r.value.byteLength;
  }
  return out.subarray(0, size);
}

/** Without a declared length, the buffer starts at about one chunk and doubles. */
const initialCapacity = 64 * 1024;
