import { describe, expect, it } from 'vitest';
import { batchedBody } from '../../src/http/batched-body.ts';
import { BodySilenceError, silenceLimited, withSilenceLimit } from '../../src/http/silent-body.ts';
import { concat, pattern } from '../support/streams.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A body that sends `pieces` pieces of `piece` bytes, `gapMs` apart, then ends or (`stall`) goes silent. */
function trickle(bytes: Uint8Array, pieces: number, gapMs: number, opts: { bytes?: boolean; stall?: boolean } = {}): ReadableStream<Uint8Array> {
  const piece = bytes.byteLength / pieces;
  let sent = 0;
  const source = {
    async pull(c: ReadableStreamDefaultController<Uint8Array> | ReadableByteStreamController) {
      await sleep(gapMs);
      if (sent === pieces) {
        if (opts.stall) return new Promise<void>(() => undefined);
        c.close();
        if ('byobRequest' in c) c.byobRequest?.respond(0);
        return;
      }
      c.enqueue(bytes.slice(sent * piece, ++sent * piece));
    },
  };
  return opts.bytes ? new ReadableStream({ type: 'bytes', ...source }) : new ReadableStream(source);
}

async function readAll(stream: ReadableStream<Uint8Array>, pauseMs = 0): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const chunk of stream) {
    out.push(chunk.slice());
    if (pauseMs) await sleep(pauseMs);
  }
  return concat(...out);
}

describe('silenceLimited', () => {
  it('never cuts a body that keeps sending, however long it takes in all', async () => {
    const bytes = pattern(8 * 1024);
    let silences = 0;
    // 8 pieces 60 ms apart: ~480 ms in all against a 200 ms limit on silence.
    const got = await readAll(silenceLimited(trickle(bytes, 8, 60), 200, () => silences++));
    expect(got).toEqual(bytes);
    expect(silences).toBe(0);
  });

  it('does not count the time the reader itself takes (backpressure)', async () => {
    const bytes = pattern(4 * 1024);
    let silences = 0;
    const got = await readAll(silenceLimited(trickle(bytes, 4, 10), 100, () => silences++), 300);
    expect(got).toEqual(bytes);
    expect(silences).toBe(0);
  });

  it('fails a body that goes silent, once, never as a clean end', async () => {
    const bytes = pattern(2048);
    let silences = 0;
    const started = Date.now();
    const read = readAll(silenceLimited(trickle(bytes, 2, 10, { stall: true }), 150, () => silences++));
    await expect(read).rejects.toBeInstanceOf(BodySilenceError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(silences).toBe(1);
  });

  it('passes a byte stream on to a BYOB reader (batched-body.ts) byte for byte', async () => {
    const bytes = pattern(300 * 1024);
    const stream = silenceLimited(trickle(bytes, 6, 1, { bytes: true }), 1000, () => undefined);
    const out: Uint8Array[] = [];
    for await (const batch of batchedBody(stream)!) out.push(batch.slice());
    expect(concat(...out)).toEqual(bytes);
  });

  it('cuts a byte stream read through BYOB as well', async () => {
    const stream = silenceLimited(trickle(pattern(1024), 1, 1, { bytes: true, stall: true }), 100, () => undefined);
    const read = (async () => {
      for await (const batch of batchedBody(stream)!) void batch;
    })();
    await expect(read).rejects.toBeInstanceOf(BodySilenceError);
  });

  it('skips empty chunks, which a byte stream cannot carry', async () => {
    const pieces = [new Uint8Array(0), pattern(10), new Uint8Array(0)];
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = pieces.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    expect(await readAll(silenceLimited(source, 1000, () => undefined))).toEqual(pattern(10));
  });
});

describe('withSilenceLimit', () => {
  it('leaves a request without a body, or without a limit, as it is', () => {
    const get = new Request('http://berth/v2/');
    expect(withSilenceLimit(get, 1000, () => undefined)).toBe(get);
    const put = new Request('http://berth/v2/x', { method: 'PUT', body: 'abc' });
    expect(withSilenceLimit(put, 0, () => undefined)).toBe(put);
  });

  it('keeps method, URL, headers and bytes of a request with a body', async () => {
    const put = new Request('http://berth/v2/x/manifests/v1?a=b', { method: 'PUT', body: 'abc', headers: { 'Content-Type': 'text/plain' } });
    const watched = withSilenceLimit(put, 1000, () => undefined);
    expect(watched).not.toBe(put);
    expect([watched.method, watched.url, watched.headers.get('content-type')]).toEqual(['PUT', 'http://berth/v2/x/manifests/v1?a=b', 'text/plain']);
    expect(await watched.text()).toBe('abc');
  });
});
