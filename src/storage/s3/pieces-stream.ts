import type { ByteRange } from '../../oci/range.ts';
import type { Piece } from './append-state.ts';
import type { Bucket } from './bucket.ts';
import { StorageError } from '../errors.ts';
import { storageError } from './errors.ts';

/**
 * Streams an inclusive range of an object stored as consecutive pieces, opening one piece at a
 * time with a ranged GET, so memory stays at one chunk whatever the size.
 */
export function piecesStream(bucket: Bucket, pieces: Piece[], range: ByteRange): ReadableStream<Uint8Array> {
  const wanted = pieces.filter((p) => p.size > 0 && p.start <= range.end && p.start + p.size > range.start);
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for (const p of wanted) {
      const start = Math.max(range.start, p.start) - p.start;
      const end = Math.min(range.end, p.start + p.size - 1) - p.start;
      const object = await bucket.open(p.key, { start, end });
      // Another replica's append replaced this piece since the state was read.
      if (!object) throw new StorageError('missing', `GET ${bucket.where(p.key)}: a stored piece of the upload is gone`);
      try {
        yield* object.body;
      } catch (e) {
        throw storageError(e, `GET ${bucket.where(p.key)}`);
      }
    }
  }
  return streamOf(bytes());
}

/** A pull stream over an async generator; cancelling it ends the generator (and its open GET). */
export function streamOf(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
