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
 * the client gets a 4xx, not a 500.
 */
export function meter(body: ReadableStream<Uint8Array>, opts: MeterOptions = {}): ReadableStream<Uint8Array> {
  const { hash, expected } = opts;
  const reader = body.getReader();
  let count = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch {
          controller.error(new OciError('BLOB_UPLOAD_INVALID', 'the request body was cut off before its end'));
          return;
        }
        if (chunk.done) {
          if (expected !== undefined && count !== expected) {
            controller.error(
              new OciError('SIZE_INVALID', `received ${count} bytes where ${expected} were declared`, {
                detail: { received: count, declared: expected },
              }),
            );
          } else {
            controller.close();
          }
          return;
        }
        count += chunk.value.byteLength;
        if (expected !== undefined && count > expected) {
          controller.error(new OciError('SIZE_INVALID', `received more than the ${expected} bytes declared`));
          await reader.cancel().catch(() => undefined);
          return;
        }
        hash?.update(chunk.value);
        controller.enqueue(chunk.value);
      },
      async cancel(reason) {
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Reads a bounded body whole (manifests); beyond `limit` bytes it stops reading and throws. */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
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
    size += r.value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new OciError('SIZE_INVALID', `manifest is larger than the ${limit} byte limit`, { status: 413 });
    }
    parts.push(r.value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
