import { describe, expect, it } from 'vitest';
import { batchedBody } from '../../src/http/batched-body.ts';
import { concat, pattern } from '../support/streams.ts';

const MiB = 1 << 20;
const batch = 256 << 10;

/** A byte stream (BYOB-readable, like Deno's request bodies) of `bytes` in pieces of `piece` bytes. */
function byteStream(bytes: Uint8Array, piece: number, onCancel?: () => void): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: 'bytes',
    pull(c) {
      if (at >= bytes.byteLength) {
        c.close();
        c.byobRequest?.respond(0);
        return;
      }
      c.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
    cancel: () => onCancel?.(),
  });
}

/** Copies each chunk as it arrives: a chunk is only valid until the next is asked for. */
async function chunksOf(body: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of body) out.push(chunk.slice());
  return out;
}

describe('batchedBody', () => {
  it('hands on a byte stream in 256 KiB batches, the last one shorter', async () => {
    const data = pattern(2 * batch + 1234);
    const chunks = await chunksOf(batchedBody(byteStream(data, 64 << 10))!);
    expect(chunks.map((c) => c.byteLength)).toEqual([batch, batch, 1234]);
    expect(Buffer.compare(concat(...chunks), data)).toBe(0);
  });

  it('reads pieces larger than a batch and an empty body', async () => {
    const data = pattern(3 * MiB + 5, 7);
    expect(Buffer.compare(concat(...(await chunksOf(batchedBody(byteStream(data, 1.5 * MiB))!))), data)).toBe(0);
    expect(await chunksOf(batchedBody(byteStream(new Uint8Array(0), 1))!)).toEqual([]);
  });

  it('cancels the stream when the consumer stops early', async () => {
    let cancelled = false;
    const body = batchedBody(byteStream(pattern(4 * MiB), 64 << 10, () => (cancelled = true)))!;
    for await (const chunk of body) {
      expect(chunk.byteLength).toBe(batch);
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('passes on a stream that is not a byte stream, leaving it unlocked', () => {
    const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    expect(batchedBody(stream)).toBeUndefined();
    expect(stream.locked).toBe(false);
  });
});
