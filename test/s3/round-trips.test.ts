/**
 * The S3 round trips of the requests a push and a pull are made of (issue 14: where a fleet's time
 * goes), counted at a proxy in front of a real store (Ceph RGW). Counts are deterministic, so each
 * is pinned with an upper bound: a change that adds a HEAD to every pushed blob fails here instead
 * of only showing as a slower bench. The requests go to three replicas in turn, as a round-robin
 * balancer sends them, so no replica has what another one wrote in memory.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { descriptorOf, digestOf, imageManifest, mediaTypes } from '../support/oci.ts';
import { hasRedis, startRedis, type RedisServer } from '../support/redis.ts';
import { startS3Counter, type S3Counter } from '../support/s3-counter.ts';
import { createBucket, s3Available, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import type { TestServer } from '../support/server.ts';

const describeS3 = (s3Available && hasRedis) || process.env.CI ? describe : describe.skip;
const accept = { Accept: `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}` };

describeS3('S3 round trips per blob push, blob pull and manifest GET', () => {
  let s3: S3Server;
  let counter: S3Counter;
  let redis: RedisServer;
  const fleets: Record<'plain' | 'redis' | 'redirect', TestServer[]> = { plain: [], redis: [], redirect: [] };

  beforeAll(async () => {
    s3 = await startS3();
    counter = await startS3Counter(s3.endpoint);
    redis = await startRedis();
    const start = async (env: Record<string, string>, storage: Record<string, unknown>): Promise<TestServer[]> => {
      const bucket = await createBucket(s3, 'trips');
      const opts = { env: { BERTH_LOG__REQUESTS: 'false', ...env }, storage: { endpoint: counter.endpoint, ...storage } };
      return Promise.all([0, 1, 2].map(() => startS3Server(s3, bucket, opts)));
    };
    const coordinated = { BERTH_COORDINATION__REDIS__URL: redis.url };
    [fleets.plain, fleets.redis, fleets.redirect] = await Promise.all([
      start({}, {}),
      start(coordinated, {}),
      start(coordinated, { redirect: { enabled: true } }),
    ]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(Object.values(fleets).flatMap((f) => f.map((s) => s.stop())));
    await redis?.close();
    await counter?.close();
    await s3?.stop();
  });

  /** The S3 requests `task` made, by kind, and their sequence (printed with TRIPS_LOG=1). */
  async function counted(label: string, task: () => Promise<void>): Promise<{ total: number; log: string[] }> {
    counter.reset();
    await task();
    const log = counter.log();
    if (process.env.TRIPS_LOG) process.stderr.write(`${label}: ${log.length}\n  ${log.join('\n  ')}\n`);
    return { total: log.length, log };
  }

  /**
   * What skopeo and containers/image do per layer, each request counted: HEAD, POST, one PATCH
   * with it all, PUT with the digest, on the replicas `via` names in turn.
   */
  async function pushLayer(via: [Client, Client, Client, Client], repo: string, bytes: Buffer): Promise<Record<'head' | 'post' | 'patch' | 'put', string[]>> {
    const digest = digestOf(bytes);
    const [a, b, c, d] = via;
    const head = await counted('HEAD blob', async () => {
      expect((await a.request('HEAD', `/v2/${repo}/blobs/${digest}`)).status).toBe(404);
    });
    let location = '';
    const post = await counted('POST upload', async () => {
      const res = await b.request('POST', `/v2/${repo}/blobs/uploads/`);
      expect(res.status, res.text()).toBe(202);
      location = res.header('location')!;
    });
    const patch = await counted('PATCH', async () => {
      const res = await c.request('PATCH', location, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
      expect(res.status, res.text()).toBe(202);
      location = res.header('location')!;
    });
    const put = await counted('PUT ?digest=', async () => {
      const url = new URL(location, d.base);
      url.searchParams.set('digest', digest);
      const res = await d.request('PUT', `${url.pathname}${url.search}`, { headers: { 'Content-Length': '0' } });
      expect(res.status, res.text()).toBe(201);
    });
    // A pushed blob is served whole, whichever replica is asked.
    expect((await a.get(`/v2/${repo}/blobs/${digest}`)).status).toBeLessThan(400);
    return { head: head.log, post: post.log, patch: patch.log, put: put.log };
  }

  /**
   * The pinned bounds, per request: what berth makes now (see bench/README.md for how they were
   * cut and what distribution makes for the same). The PUT makes 6: its listing of collection
   * markers is shared by pushes within half a second, so it counts once at most; and when the
   * link's checks outlast half of a collection's linger (a loaded machine), the link and the bytes
   * are looked at once more (collections.ts), 2 more.
   */
  const bounds = { head: 1, post: 1, patch: 6, put: 6 + 2 };

  for (const kind of ['plain', 'redis', 'redirect'] as const) {
    it(`${kind}: a layer push, a layer pull and a manifest GET by tag, each request on another replica`, async () => {
      const [r0, r1, r2] = fleets[kind].map((s) => new Client(s.url)) as [Client, Client, Client];
      const repo = `trips/${kind}`;
      const layer = randomBytes(256 << 10);
      const digest = digestOf(layer);

      const push = await pushLayer([r0, r1, r2, r0], repo, layer);
      for (const step of ['head', 'post', 'patch', 'put'] as const) expect(push[step].length, `${step}:\n${push[step].join('\n')}`).toBeLessThanOrEqual(bounds[step]);
      // The replica that finishes has no hash of the bytes: the label the last append left on the
      // data stands in, so nothing of the upload is read back, and no record of its own is asked for.
      expect(push.put.filter((l) => /^GET( range)? _uploads\/[^/]+\/data\//.test(l))).toEqual([]);
      expect(push.put.filter((l) => /_uploads\/[^/]+\/hash/.test(l))).toEqual([]);
      // A blob that came in one PATCH under a part went straight to its digest's key (verified
      // before it was written): the PUT copies nothing.
      expect(push.put.filter((l) => /^(CopyObject|UploadPartCopy|HEAD blobs)/.test(l))).toEqual([]);
      expect(push.patch.filter((l) => l.startsWith(`PUT blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`))).toHaveLength(1);

      // The PUT on the replica that opened the session (it holds a hash of nothing yet) and a
      // second layer all through one replica: the same bounds.
      const again = await pushLayer([r0, r1, r2, r1], repo, randomBytes(64 << 10));
      const one = await pushLayer([r2, r2, r2, r2], repo, randomBytes(6 << 20));
      for (const p of [again, one]) for (const step of ['head', 'post', 'patch', 'put'] as const) expect(p[step].length, `${step}:\n${p[step].join('\n')}`).toBeLessThanOrEqual(bounds[step] + (p === one && step === 'patch' ? 1 : 0));

      const config = Buffer.from('{}');
      await pushLayer([r0, r1, r2, r0], repo, config);
      const manifest = imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [descriptorOf(layer, mediaTypes.ociLayer)] });
      const put = await r0.request('PUT', `/v2/${repo}/manifests/v1`, { body: manifest, headers: { 'Content-Type': mediaTypes.ociManifest } });
      expect(put.status, put.text()).toBe(201);

      // A pull's blob GET on a replica that wrote nothing of it; with the redirect, the client's
      // GET at the store is counted too.
      const pull = await counted(`${kind} blob GET`, async () => {
        const res = await r1.get(`/v2/${repo}/blobs/${digest}`);
        if (kind === 'redirect') {
          expect(res.status).toBe(307);
          const location = res.header('location')!;
          expect((await new Client(new URL(location).origin).get(location)).body.equals(layer)).toBe(true);
        } else {
          expect(res.status).toBe(200);
          expect(res.body.equals(layer)).toBe(true);
        }
      });
      // The link, then one GET that answers the size with the bytes (or the client's at the store).
      expect(pull.total, pull.log.join('\n')).toBeLessThanOrEqual(2);

      // Every replica has read the tag once: what a warm fleet pays per GET. Without Redis, the
      // tag and the manifest's link are asked for each time (read-your-writes on the bucket alone);
      // with it, nothing.
      for (const r of [r0, r1, r2]) expect((await r.get(`/v2/${repo}/manifests/v1`, accept)).status).toBe(200);
      const manifestGets = await counted(`${kind} manifest GET x3`, async () => {
        for (const r of [r0, r1, r2]) expect((await r.get(`/v2/${repo}/manifests/v1`, accept)).status).toBe(200);
      });
      expect(manifestGets.total, manifestGets.log.join('\n')).toBeLessThanOrEqual(kind === 'plain' ? 3 * 2 : 0);
    }, 180_000);
  }
});
