/**
 * Mirror retention deletes what a client is in the middle of downloading: the image expires (unused
 * past `maxAge`) and its layer's bytes go while a client holds the layer's GET half read. The client
 * must end with the whole layer or with a broken transfer, never with a clean end of wrong or short
 * bytes; the store stays consistent and the next pull fetches the image again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.ts';
import { storeProblemsIn } from '../support/store.ts';
import { ociManifest, pullProblems, pushImage, sha256 } from './client.ts';
import { repeatUntilStopped, startStack, type Stack } from './stack.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A GET whose body the test reads when it chooses: nothing more is read while it waits. */
function openPaused(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads `n` bytes (at least) of a paused body, then pauses it again. */
function readSome(res: IncomingMessage, n: number, into: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk: Buffer): void => {
      into.push(chunk);
      got += chunk.byteLength;
      if (got >= n) {
        res.pause();
        res.off('data', onData);
        resolve();
      }
    };
    res.on('data', onData);
    res.once('error', reject);
    res.resume();
  });
}

/** Reads the rest: `complete` only if the response ended cleanly (not aborted, not cut). */
function readRest(res: IncomingMessage, into: Buffer[]): Promise<{ complete: boolean }> {
  return new Promise((resolve) => {
    res.on('data', (chunk: Buffer) => into.push(chunk));
    res.once('end', () => resolve({ complete: res.complete }));
    res.once('error', () => resolve({ complete: false }));
    res.once('close', () => resolve({ complete: res.complete }));
    res.resume();
  });
}

describe('mirror retention evicting a layer while a client streams it', () => {
  let upstream: TestServer;
  let mirror: Stack;
  const layer = randomBytes(48 << 20);
  const layerDigest = sha256(layer);
  let manifestDigest = '';

  beforeAll(async () => {
    upstream = await startServer();
    const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    const pushed = await pushImage(upstream.url, 'lib/app', 'v1', config, [layer]);
    if (!pushed.ok) throw new Error(`push to the upstream: ${JSON.stringify(pushed.refusal)}`);
    manifestDigest = pushed.digest;
    mirror = await startStack({
      mirror: { upstreams: [{ name: 'up', url: upstream.url, prefix: 'up' }], retention: { maxAge: '3s', interval: '300ms' } },
    });
  });
  afterAll(async () => {
    await mirror?.stop();
    await upstream?.stop();
  });

  it('lets the client finish or fail cleanly, and leaves nothing corrupt', async () => {
    const url = mirror.server.url;
    const pullTag = async (): Promise<number> => (await fetch(`${url}/v2/up/lib/app/manifests/v1`, { headers: { Accept: ociManifest } })).status;
    // Until the layer is cached, the image is kept in use (a pull of its tag every 200 ms), so it
    // cannot expire while a busy machine takes its time over the 48 MiB.
    const inUse = repeatUntilStopped(async () => {
      await pullTag();
      await sleep(200);
    });
    // Cached through the mirror: manifest, then the layer (whole and verified).
    expect(await pullProblems(url, 'up/lib/app', 'v1', manifestDigest)).toEqual([]);
    const key = `blobs/sha256/${layerDigest.slice(7, 9)}/${layerDigest.slice(7)}`;
    // The fill commits once the upstream's bytes are verified, which may end after our copy did.
    for (let waited = 0; !(await mirror.store.exists(key)) && waited < 60_000; waited += 200) await sleep(200);
    await inUse.stop();
    expect(await mirror.store.exists(key)).toBe(true);

    // A pull of the tag marks the image used: it cannot expire before maxAge from now.
    expect(await pullTag()).toBe(200);
    const blobRequests = (): string[] =>
      mirror.server.logs().split('\n').filter((l) => l.includes('"msg":"request"') && l.includes(`/blobs/${layerDigest}`));
    const before = blobRequests().length;
    const res = await openPaused(`${url}/v2/up/lib/app/blobs/${layerDigest}`);
    expect(res.statusCode).toBe(200);
    // Served from the cache (what retention is about to delete), not fetched from the upstream again.
    for (let waited = 0; blobRequests().length === before && waited < 10_000; waited += 100) await sleep(100);
    expect(blobRequests().at(-1)).toContain('"upstream":"hit"');
    const parts: Buffer[] = [];
    await readSome(res, 1 << 20, parts);

    // Nothing uses the image now: within a few sweeps it expires and its layer's bytes go.
    for (let waited = 0; (await mirror.store.exists(key)) && waited < 60_000; waited += 200) await sleep(200);
    expect(await mirror.store.exists(key)).toBe(false);

    const { complete } = await readRest(res, parts);
    const body = Buffer.concat(parts);
    const whole = createHash('sha256').update(body).digest('hex') === layerDigest.slice(7);
    // A clean end means the whole layer; a transfer that broke off is the clean failure.
    if (complete) expect({ whole, bytes: body.byteLength }).toEqual({ whole: true, bytes: layer.byteLength });
    else expect(body.byteLength).toBeLessThan(layer.byteLength);

    // Expired, not lost: the next pull fetches it from the upstream again, whole.
    expect(await pullProblems(url, 'up/lib/app', 'v1', manifestDigest)).toEqual([]);
    // Then, with no sweep running beside the check, the store is consistent.
    await mirror.stopServer();
    const problems = await storeProblemsIn(mirror.store);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
