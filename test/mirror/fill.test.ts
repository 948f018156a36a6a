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
      const got = await readAll(await r);
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
    const slow = await fill.reader();
    // The fill completes although nobody read a byte of `slow`.
    await fill.done;
    expect((await readAll(slow)).equals(src.bytes)).toBe(true);
  });

  it('replays the start to a reader that joins late, or sends it to storage when the start is gone', async () => {
    const src = source(40, 1000);
    const store = memoryStore({ replayBuffer: 10_000 });
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    const early = await fill.reader();
    const reading = readAll(early);
    await new Promise((r) => setTimeout(r, 5));
    const soon = await fill.reader();
    await new Promise((r) => setTimeout(r, 60));
    const late = await fill.reader();
    const [e, s, l] = await Promise.all([reading, readAll(soon), readAll(late)]);
    for (const got of [e, s, l]) expect(got.equals(src.bytes)).toBe(true);
  });

  it('errors every reader and commits nothing when the download breaks', async () => {
    const src = source(30, 1000, 20);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const results = await Promise.allSettled([readAll(await fill.reader()), readAll(await fill.reader())]);
    for (const r of results) expect(r.status).toBe('rejected');
    await expect(fill.done).rejects.toThrow('connection reset');
    expect(store.committed()).toBeUndefined();
  });

  it('refuses a reader, instead of handing out a body that fails before its first byte, when the download breaks while every chunk is held back', async () => {
    // The upstream's bytes came in one piece, then it broke off: that piece was the newest, so no
    // byte could go out. The request is refused (a 503 above), not answered 200 with a dead body.
    const src = source(3, 1000, 1);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    await expect(fill.reader()).rejects.toThrow('connection reset');
    await expect(fill.done).rejects.toThrow('connection reset');
  });

  it('hands a reader out as soon as it has a chunk it may send, long before the commit', async () => {
    const src = source(20, 1000);
    const store = gatedStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const reader = (await fill.reader()).getReader();
    const first = await reader.read();
    expect(first.value?.byteLength).toBe(1000);
    // Not verified yet: the store waits for its verdict.
    expect(fill.running).toBe(true);
    store.verdict(true);
    await fill.done;
    await reader.cancel();
  });

  it('goes on for the others when a reader cancels', async () => {
    const src = source(30, 1000);
    const store = memoryStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const leaver = (await fill.reader()).getReader();
    const stayer = readAll(await fill.reader());
    await leaver.read();
    await leaver.cancel();
    expect((await stayer).equals(src.bytes)).toBe(true);
    expect(store.committed()?.equals(src.bytes)).toBe(true);
  });
});

/** Reads `stream` until it stalls for `quietMs`; returns how much arrived and a read of what comes next. */
async function readUntilQuiet(stream: ReadableStream<Uint8Array>, quietMs: number): Promise<{ got: number; rest: () => Promise<number> }> {
  const reader = stream.getReader();
  let got = 0;
  for (;;) {
    const next = reader.read();
    const r = await Promise.race([next, new Promise<'quiet'>((ok) => setTimeout(() => ok('quiet'), quietMs))]);
    if (r !== 'quiet' && !r.done) {
      got += r.value.byteLength;
      continue;
    }
    // Whatever the pending read brings comes first, then the rest of the stream.
    const rest = async (): Promise<number> => {
      let n = 0;
      for (let x = await next; !x.done; x = await reader.read()) n += x.value.byteLength;
      return n;
    };
    return { got, rest };
  }
}

/** A store that takes the whole body, then waits for `verdict` before committing (or failing, as a digest mismatch does). */
function gatedStore(): FillOptions & { verdict: (ok: boolean) => void; consumed: Promise<number> } {
  let settle: (ok: boolean) => void = () => undefined;
  const decided = new Promise<boolean>((ok) => (settle = ok));
  let consumedResolve: (n: number) => void = () => undefined;
  const consumed = new Promise<number>((ok) => (consumedResolve = ok));
  let committed: Buffer | undefined;
  return {
    store: async (body) => {
      const parts: Uint8Array[] = [];
      for await (const p of body) parts.push(p);
      consumedResolve(parts.reduce((n, p) => n + p.byteLength, 0));
      if (!(await decided)) throw new Error('digest mismatch');
      committed = Buffer.concat(parts);
    },
    readStored: async (range) => new Blob([new Uint8Array(committed!.subarray(range.start, range.end + 1))]).stream(),
    readerBuffer: 1 << 20,
    replayBuffer: 1 << 20,
    verdict: (ok) => settle(ok),
    consumed,
  };
}

describe('Fill: nothing unverified completes', () => {
  it('holds back the end of every reader until the blob is committed', async () => {
    const src = source(20, 1000);
    const store = gatedStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const readers = [await fill.reader(), await fill.reader()];
    expect(await store.consumed).toBe(src.bytes.length);
    const partial = await Promise.all(readers.map((r) => readUntilQuiet(r, 50)));
    for (const p of partial) {
      expect(p.got, 'a reader received the last byte before the commit').toBeLessThan(src.bytes.length);
      expect(p.got).toBeGreaterThan(0);
    }
    store.verdict(true);
    await fill.done;
    for (const p of partial) expect(p.got + (await p.rest())).toBe(src.bytes.length);
  });

  it('errors every reader, never ends it, when the bytes fail verification', async () => {
    const src = source(20, 1000);
    const store = gatedStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    await fill.ready;
    const live = [await fill.reader(), await fill.reader()];
    const range = fill.reader({ start: 0, end: 99 });
    await store.consumed;
    const partial = await Promise.all(live.map((r) => readUntilQuiet(r, 50)));
    store.verdict(false);
    await expect(fill.done).rejects.toThrow('digest mismatch');
    for (const p of partial) {
      expect(p.got).toBeLessThan(src.bytes.length);
      await expect(p.rest()).rejects.toThrow('digest mismatch');
    }
    await expect(range).rejects.toThrow('digest mismatch');
    // A reader asked for after the failure is refused outright.
    await expect(fill.reader()).rejects.toThrow('digest mismatch');
  });

  it('serves a range only from storage, after the commit', async () => {
    const src = source(20, 1000);
    const store = gatedStore();
    const fill = new Fill(async () => ({ size: src.bytes.length, body: src.body }), store);
    let served = false;
    const range = fill.reader({ start: 500, end: 10_499 }).then((s) => ((served = true), s));
    await store.consumed;
    await new Promise((r) => setTimeout(r, 20));
    expect(served, 'a range was answered before the blob was verified').toBe(false);
    store.verdict(true);
    expect((await readAll(await range)).equals(src.bytes.subarray(500, 10_500))).toBe(true);
  });
});
