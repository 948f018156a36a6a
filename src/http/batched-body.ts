/**
 * Bytes gathered before they are handed on: the fs driver writes a batch this size without copying
 * it. The fs driver's own batch size (storage/fs/driver.ts says why not larger).
 */
const batchSize = 256 * 1024;

/** Buffers of finished bodies, for the next ones; more concurrent bodies than this allocate their own. */
const spare: ArrayBuffer[] = [];
const maxSpare = 4;

/**
 * A byte stream's bytes read with a BYOB reader into one buffer per body, handed on in batches
 * of 256 KiB (the last may be shorter). Each batch is a view of that same buffer, valid only until
 * the next one is asked for: the upload path (meter, then a driver's append) consumes or copies
 * every chunk before that.
 *
 * Why: a default reader allocates a fresh 64 KiB buffer per read, and V8 collects that garbage
 * only after tens of MiB of it (external memory), so on Deno a 1 GiB push peaked ~100 MiB above
 * idle; a reused buffer makes no garbage. Undefined when the stream is not a byte stream (no BYOB
 * reader), so the caller takes the portable path.
 */
export function batchedBody(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> | undefined {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    return undefined;
  }
  return batches(reader);
}

async function* batches(reader: ReadableStreamBYOBReader): AsyncGenerator<Uint8Array> {
  let buffer = spare.pop() ?? new ArrayBuffer(batchSize);
  let ended = false;
  try {
    while (!ended) {
      let filled = 0;
      while (filled < batchSize) {
        const { done, value } = await reader.read(new Uint8Array(buffer, filled));
        // A BYOB read transfers the buffer it is given: the bytes come back over a new ArrayBuffer
        // object (same memory), which is the one to read into next. No value: cancelled.
        if (value === undefined) return;
        buffer = value.buffer;
        if (done) {
          ended = true;
          break;
        }
        filled += value.byteLength;
      }
      if (filled > 0) yield new Uint8Array(buffer, 0, filled);
    }
  } finally {
    // Stopped before the end (the consumer failed or gave up): the rest of the body is not wanted.
    if (ended) reader.releaseLock();
    else await reader.cancel().catch(() => undefined);
    // A buffer detached by a failed read has no bytes left to reuse.
    if (buffer.byteLength === batchSize && spare.length < maxSpare) spare.push(buffer);
  }
}
