import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetPeak, rss } from '../../bench/rss.ts';
import { Client, type Reply } from '../support/http.ts';
import { descriptorOf, digestOf, imageManifest, mediaTypes, pushBlob, pushManifest } from '../support/oci.ts';
import { createBucket, s3Available, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import type { TestServer } from '../support/server.ts';

const MiB = 1 << 20;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** The smallest part size: uploads cross part boundaries with little data. */
const storage = { partSize: '5MiB' };

/** Starts an upload on `via`; returns its path (a Location is relative, and valid on every replica). */
async function startUpload(via: Client, repo: string): Promise<string> {
  const res = await via.request('POST', `/v2/${repo}/blobs/uploads/`);
  expect(res.status, res.text()).toBe(202);
  return new URL(res.header('location') ?? '', via.base).pathname;
}

async function patch(via: Client, path: string, bytes: Uint8Array, start: number): Promise<void> {
  const res = await via.request('PATCH', path, {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + bytes.byteLength - 1}` },
    body: bytes,
  });
  expect(res.status, res.text()).toBe(202);
  expect(res.header('range')).toBe(`0-${start + bytes.byteLength - 1}`);
}

async function offsetOf(via: Client, path: string): Promise<number> {
  const res = await via.get(path);
  expect(res.status, res.text()).toBe(204);
  return Number(/^0-(\d+)$/.exec(res.header('range') ?? '')?.[1] ?? -1) + 1;
}

async function finish(via: Client, path: string, digest: string): Promise<void> {
  const res = await via.request('PUT', `${path}?digest=${digest}`);
  expect(res.status, res.text()).toBe(201);
  expect(res.header('docker-content-digest')).toBe(digest);
}

/** Pulls a blob from every replica and checks its bytes. */
async function expectBlob(replicas: Client[], repo: string, bytes: Uint8Array): Promise<void> {
  for (const via of replicas) {
    const res = await via.get(`/v2/${repo}/blobs/${digestOf(bytes)}`);
    expect(res.status, `${via.base.host}: ${res.text().slice(0, 200)}`).toBe(200);
    expect(res.body.byteLength).toBe(bytes.byteLength);
    expect(sha256(res.body)).toBe(sha256(bytes));
  }
}

/** Opens a PATCH with these headers; the body is the caller's to write. */
const openPatch = (via: Client, path: string, headers: Record<string, string>) =>
  request({ host: via.base.hostname, port: via.base.port, method: 'PATCH', path, agent: false, headers: { 'Content-Type': 'application/octet-stream', ...headers } });

/** Sends the head and `sent` bytes of a PATCH declaring `declared` bytes, and leaves it hanging. */
function hangingPatch(via: Client, path: string, sent: Uint8Array, declared: number): Promise<void> {
  return new Promise((resolve) => {
    const req = openPatch(via, path, { 'Content-Length': String(declared) });
    req.on('error', () => undefined);
    req.write(sent, () => resolve());
  });
}

type Answer = Pick<Reply, 'status' | 'header' | 'json' | 'text'>;

/** A PATCH of `bytes` at `start` that sends its head and `first` bytes now and the rest on `finish`. */
function pausedPatch(via: Client, path: string, start: number, bytes: Uint8Array, first: number): { finish(): Promise<Answer> } {
  const req = openPatch(via, path, { 'Content-Length': String(bytes.byteLength), 'Content-Range': `${start}-${start + bytes.byteLength - 1}` });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const header = (name: string): string | undefined => [res.headers[name.toLowerCase()]].flat().join(', ') || undefined;
        resolve({ status: res.statusCode ?? 0, header, text: () => text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.on('error', reject);
  });
  req.write(bytes.subarray(0, first));
  return {
    finish: () => {
      req.end(bytes.subarray(first));
      return answer;
    },
  };
}

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

describeS3('two replicas on one bucket', () => {
  let s3: S3Server;
  let bucket: string;
  let a: TestServer;
  let b: TestServer;
  let ca: Client;
  let cb: Client;

  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'replicas');
    [a, b] = await Promise.all([startS3Server(s3, bucket, { storage }), startS3Server(s3, bucket, { storage })]);
    ca = new Client(a.url);
    cb = new Client(b.url);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await s3?.stop();
  });

  it('takes a chunked upload whose PATCHes alternate between replicas and whose PUT lands on the other', async () => {
    const repo = 'replicas/alternating';
    const sizes = [3 * MiB, 1024, 5 * MiB, 2 * MiB + 17, 1, 6 * MiB, 333_333];
    const data = randomBytes(sizes.reduce((x, y) => x + y, 0));
    const path = await startUpload(ca, repo);
    let offset = 0;
    for (const [i, size] of sizes.entries()) {
      const [here, there] = i % 2 === 0 ? [cb, ca] : [ca, cb];
      await patch(here, path, data.subarray(offset, offset + size), offset);
      offset += size;
      expect(await offsetOf(there, path)).toBe(offset);
    }
    // The last PATCH went to b (an even count of 7 ends on index 6): finish on a.
    await finish(ca, path, digestOf(data));
    await expectBlob([ca, cb], repo, data);
    expect((await cb.get(path)).status).toBe(404);
  });

  it('finishes on one replica an upload whose replica was SIGKILLed mid-PATCH', async () => {
    const c = await startS3Server(s3, bucket, { storage });
    const cc = new Client(c.url);
    try {
      const repo = 'replicas/killed';
      const data = randomBytes(19 * MiB + 5);
      const path = await startUpload(cc, repo);
      await patch(cc, path, data.subarray(0, 6 * MiB), 0);
      // c is taking the next PATCH (a part of it already went to S3) when it dies.
      await hangingPatch(cc, path, data.subarray(6 * MiB, 14 * MiB), 10 * MiB);
      await new Promise((r) => setTimeout(r, 1500));
      await c.stop('SIGKILL');

      expect(await offsetOf(ca, path)).toBe(6 * MiB);
      await patch(ca, path, data.subarray(6 * MiB, 15 * MiB), 6 * MiB);
      const rest = data.subarray(15 * MiB);
      const res = await cb.request('PUT', `${path}?digest=${digestOf(data)}`, {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: rest,
      });
      expect(res.status, res.text()).toBe(201);
      await expectBlob([ca, cb], repo, data);
    } finally {
      await c.stop();
    }
  });

  it('holds the same memory for a 256 MiB blob as for a 64 MiB one, pushed in one request', async () => {
    const pid = a.process.pid;
    if (pid === undefined) throw new Error('no pid');
    /** The replica's peak RSS while it takes a blob of `mib` MiB. */
    const peakFor = async (mib: number): Promise<number> => {
      const data = randomBytes(mib * MiB);
      await resetPeak(pid);
      await pushBlob(ca, `replicas/memory-${mib}`, data);
      return (await rss(pid)).peak;
    };
    await peakFor(32); // warms the runtime and the SDK up
    const small = await peakFor(64);
    const big = await peakFor(256);
    // Parts are 5 MiB here: four times the blob may cost GC slack, not the blob.
    expect(big - small, `peak ${small >> 20} MiB for 64 MiB, ${big >> 20} MiB for 256 MiB`).toBeLessThan(48 * MiB);
  });

  it('serves 8 parallel pushes spread over both replicas, pulled back from both', async () => {
    const images = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const via = i % 2 === 0 ? ca : cb;
        const repo = `replicas/parallel-${i}`;
        const layer = randomBytes(MiB + i * 977_777);
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', i }));
        await pushBlob(via, repo, config);
        if (i % 4 === 0) {
          // Some layers in chunks, the halves on different replicas.
          const path = await startUpload(via, repo);
          const half = Math.floor(layer.byteLength / 2);
          await patch(via, path, layer.subarray(0, half), 0);
          await patch(via === ca ? cb : ca, path, layer.subarray(half), half);
          await finish(via, path, digestOf(layer));
        } else {
          await pushBlob(via, repo, layer);
        }
        const manifest = imageManifest({
          config: descriptorOf(config, mediaTypes.ociConfig),
          layers: [descriptorOf(layer, mediaTypes.ociLayer)],
        });
        await pushManifest(via, repo, 'v1', manifest);
        return { repo, layer, config, manifest };
      }),
    );
    for (const { repo, layer, config, manifest } of images) {
      for (const via of [ca, cb]) {
        const res = await via.get(`/v2/${repo}/manifests/v1`, { Accept: mediaTypes.ociManifest });
        expect(res.status).toBe(200);
        expect(res.body.equals(manifest)).toBe(true);
        expect(res.header('docker-content-digest')).toBe(digestOf(manifest));
        const tags = await via.get(`/v2/${repo}/tags/list`);
        expect(tags.json()).toEqual({ name: repo, tags: ['v1'] });
      }
      await expectBlob([ca, cb], repo, layer);
      await expectBlob([ca, cb], repo, config);
    }
  });

  it('answers the loser of two PATCHes racing at one offset on two replicas 416 with the winner\'s Range, never 503', async () => {
    const repo = 'replicas/race';
    const patchFrom = (via: Client, path: string, start: number, bytes: Uint8Array) =>
      via.request('PATCH', path, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + bytes.byteLength - 1}` },
        body: bytes,
      });
    for (const race of ['at once', 'the loser paused mid-body'] as const) {
      const path = await startUpload(ca, repo);
      // A small first chunk leaves a tail piece, which the winner replaces and the loser needs.
      const base = randomBytes(100 * 1024);
      await patch(ca, path, base, 0);
      const mine = randomBytes(6 * MiB);
      const theirs = randomBytes(6 * MiB);
      let answers: Answer[];
      if (race === 'at once') {
        answers = await Promise.all([patchFrom(ca, path, base.byteLength, mine), patchFrom(cb, path, base.byteLength, theirs)]);
      } else {
        // cb's replica reads the upload's state and its first bytes, then waits; ca's PATCH wins
        // and replaces the tail piece cb's will need once its part fills (issue 12: was a 503
        // "object is missing" naming keys).
        const paused = pausedPatch(cb, path, base.byteLength, theirs, 64 * 1024);
        await new Promise((r) => setTimeout(r, 1000));
        const first = await patchFrom(ca, path, base.byteLength, mine);
        answers = [first, await paused.finish()];
      }
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses, `${race}: ${answers.map((r) => r.text()).join('\n')}`).toEqual([202, 416]);
      const won = answers[0]!.status === 202 ? mine : theirs;
      const lost = answers.find((r) => r.status === 416)!;
      const end = base.byteLength + won.byteLength;
      expect(lost.header('range')).toBe(`0-${end - 1}`);
      expect(lost.json()).toMatchObject({ errors: [{ code: 'BLOB_UPLOAD_INVALID' }] });
      expect(lost.text()).not.toMatch(/s3:|_uploads|127\.0\.0\.1/);
      expect(await offsetOf(cb, path)).toBe(end);
      const all = new Uint8Array(end);
      all.set(base);
      all.set(won, base.byteLength);
      await finish(cb, path, digestOf(all));
      await expectBlob([ca, cb], repo, all);
    }
  });

  // Last: it takes the S3 server away.
  it('answers 503 envelopes and logs why when S3 goes away, and keeps running', async () => {
    const data = randomBytes(1000);
    await pushBlob(ca, 'replicas/outage', data);
    await s3.stop();
    for (const res of [await ca.get(`/v2/replicas/outage/blobs/${digestOf(data)}`), await cb.request('POST', '/v2/replicas/outage/blobs/uploads/')]) {
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ errors: [{ code: 'UNAVAILABLE', message: expect.stringMatching(/^storage is unavailable/) }] });
      expect(res.header('retry-after')).toBeDefined();
    }
    expect(a.logs()).toMatch(/"level":"error".*"storage":"unavailable"/);
    expect((await ca.get('/v2/')).status).toBe(200);
    expect(a.process.exitCode).toBeNull();
  });
});
