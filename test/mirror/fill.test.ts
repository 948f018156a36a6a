import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Fill, type FillOptions } from '../../src/mirror/fill.ts';

/** A source of `n` chunks of `size` random bytes; `failAt` errors the stream before that chunk. */
function source(n: number, size: number, failAt?: number): { bytes: Buffer; body: ReadableStream<Uint8Array> } {
  const chunks = Array.from({ length: n }, () => randomBytes(size));
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      await new Promise((r) => setTimeout(r, 1));
      if (i === failAt) return ctl.error(new Error('connection reset'));
      const c = chunks[i++];
      if (c) ctl.enqueue(new Uint8Array(c));
      else ctl.close();
    },
  });
  return { bytes: Buffer.concat(chunks), body };
}

/** In-memory storage: what was stored, committed only when the whole body arrived. */
function memoryStore(opts: Partial<FillOptions> = {}): FillOptions & { committed: () => Buffer | undefined } {
  let committed: Buffer | undefined;
  return {
    store: async (body) => {
      const parts: Uint8Array[] = [];
      for await (const p of body) parts.push(p);
      committed = Buffer.concat(parts);
    },
    readStored: async (range) => new Blob([new Uint8Array(committed!.subarray(range.start, range.end + 1))]).stream(),
    readerBuffer: 1 << 20,
    replayBuffer: 1 << 20,
    committed: () => committed,
    ...opts,
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

describe('Fill: one upstream download shared by its readers', () => {
  it('streams the same bytes to every reader and ends them only after the commit', async () => {
    const src = source(50, 1000);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const readers = [fill.reader(), fill.reader(), fill.reader({ start: 1234, end: 5677 })];
    const [a, b, c] = await Promise.all(readers.map(async (r) => {
      const got = await readAll(r);
      expect(store.committed(), 'a reader ended before the commit').toBeDefined();
      return got;
    }));
    expect(a!.equals(src.bytes)).toBe(true);
    expect(b!.equals(src.bytes)).toBe(true);
    expect(c!.equals(src.bytes.subarray(1234, 5678))).toBe(true);
  });

  it('does not wait for a slow reader: past its queue it continues from storage', async () => {
    const src = source(100, 1000);
    const store = memoryStore({ readerBuffer: 4000 });
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const slow = fill.reader();
    // The fill completes although nobody read a byte of `slow`.
    await fill.done;
    expect((await readAll(slow)).equals(src.bytes)).toBe(true);
  });

  it('replays the start to a reader that joins late, or sends it to storage when the start is gone', async () => {
    const src = source(40, 1000);
    const store = memoryStore({ replayBuffer: 10_000 });
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    const early = fill.reader();
    const reading = readAll(early);
    await new Promise((r) => setTimeout(r, 5));
    const soon = fill.reader();
    await new Promise((r) => setTimeout(r, 60));
    const late = fill.reader();
    const [e, s, l] = await Promise.all([reading, readAll(soon), readAll(late)]);
    for (const got of [e, s, l]) expect(got.equals(src.bytes)).toBe(true);
  });

  it('errors every reader and commits nothing when the download breaks', async () => {
    const src = source(30, 1000, 20);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const results = await Promise.allSettled([readAll(fill.reader()), readAll(fill.reader())]);
    for (const r of results) expect(r.status).toBe('rejected');
    await expect(fill.done).rejects.toThrow('connection reset');
    expect(store.committed()).toBeUndefined();
  });

  it('goes on for the others when a reader cancels', async () => {
    const src = source(30, 1000);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const leaver = fill.reader().getReader();
    const stayer = readAll(fill.reader());
    await leaver.read();
    await leaver.cancel();
    expect((await stayer).equals(src.bytes)).toBe(true);
    expect(store.committed()?.equals(src.bytes)).toBe(true);
  });
});
