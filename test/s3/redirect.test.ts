/**
 * `storage.s3.redirect` over HTTP: blob GETs answered with a 307 to a presigned URL, followed to a
 * real store (Ceph RGW) behind counting proxies that play its public name (Host passed on, as a
 * proxy that keeps it does) and a CDN (Host rewritten to the store's), so every byte a client gets
 * is seen to come from the store, not from berth. Auth runs first, HEAD stays local, Range goes with
 * the client, and a mirrored blob redirects only once it is committed.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, hashPassword, pushBlob } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { Client, type Reply } from '../support/http.ts';
import { digestOf, errorCode } from '../support/oci.ts';
import { createBucket, s3Available, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { writeConfig } from '../support/mirror.ts';

const MiB = 1 << 20;
const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

const users = { alice: 'alice-pw', bob: 'bob-pw' };
const alice = { Authorization: basic('alice', users.alice) };
const bob = { Authorization: basic('bob', users.bob) };

/** The object a blob's bytes live in (the storage layout: blobs/<alg>/<xx>/<hex>), as a path-style URL names it. */
const objectPath = (bucket: string, digest: string): string => `/${bucket}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

/** GETs an absolute URL (a Location) with its own client: it names another origin than berth. */
const follow = (location: string, headers: Record<string, string> = {}): Promise<Reply> => new Client(new URL(location).origin).get(location, headers);

/** The request log lines berth wrote for one path. */
const logged = (server: TestServer, path: string): Array<{ method: string; status: number }> =>
  server
    .logs()
    .split('\n')
    .filter((l) => l.includes('"msg":"request"') && l.includes(`"path":"${path}"`))
    .map((l) => JSON.parse(l) as { method: string; status: number });

/** A download that reports its head at once and its whole body when done. */
function download(url: string, headers: Record<string, string> = {}): { head: Promise<{ status: number; headers: IncomingHttpHeaders }>; body: Promise<Buffer> } {
  let head!: (h: { status: number; headers: IncomingHttpHeaders }) => void;
  let body!: (b: Buffer) => void;
  let fail!: (e: unknown) => void;
  const result = {
    head: new Promise<{ status: number; headers: IncomingHttpHeaders }>((r, f) => ((head = r), (fail = f))),
    body: new Promise<Buffer>((r, f) => {
      body = r;
      const previous = fail;
      fail = (e) => (previous(e), f(e));
    }),
  };
  result.body.catch(() => undefined);
  const req = httpRequest(url, { headers, agent: false }, (res) => {
    head({ status: res.statusCode ?? 0, headers: res.headers });
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => body(Buffer.concat(parts)));
    res.on('error', fail);
  });
  req.on('error', fail);
  req.end();
  return result;
}

describeS3('blob GETs redirected to presigned S3 URLs (storage.s3.redirect)', () => {
  let s3: S3Server;
  let bucket: string;
  /** The store under a public name: Host passes through, so URLs must be signed for this address. */
  let publicS3: FaultProxy;
  /** A CDN in front of the store: it reaches the store with the store's own Host. */
  let cdn: FaultProxy;
  /** The upstream of the mirror, behind a proxy that can slow its blob down. */
  let upstream: TestServer;
  let upstreamProxy: FaultProxy;
  let mirrorConfig: string;
  /** Basic auth, the mirror, redirects to `publicS3`. */
  let berth: TestServer;
  /** Redirects through `cdn`. */
  let viaCdn: TestServer;
  /** Redirects off (the default). */
  let plain: TestServer;
  let client: Client;

  const blob = randomBytes(3 * MiB + 123);
  const digest = digestOf(blob);
  const blobPath = `/v2/team/app/blobs/${digest}`;

  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'redirect');
    [publicS3, cdn, upstream] = await Promise.all([startFaultProxy(s3.endpoint, { keepHost: true }), startFaultProxy(s3.endpoint), startServer()]);
    upstreamProxy = await startFaultProxy(upstream.url);
    mirrorConfig = await writeConfig(
      JSON.stringify({
        mirror: { upstreams: [{ name: 'up', url: upstreamProxy.url, prefix: 'up' }] },
        auth: {
          mode: 'basic',
          users: { alice: { password: hashPassword(users.alice) }, bob: { password: hashPassword(users.bob) } },
          rules: [
            { users: ['alice'], repositories: ['team/**', 'up/**'], actions: ['push'] },
            { users: ['bob'], repositories: ['bob/**'], actions: ['push'] },
          ],
        },
      }),
    );
    [berth, viaCdn, plain] = await Promise.all([
      startS3Server(s3, bucket, { args: ['--config', mirrorConfig], storage: { redirect: { enabled: true, expiry: '10m', endpoint: publicS3.url } } }),
      startS3Server(s3, bucket, { storage: { redirect: { enabled: true, baseUrl: cdn.url } } }),
      startS3Server(s3, bucket),
    ]);
    client = new Client(berth.url);
    const pushed = await pushBlob(berth.url, 'team/app', blob, alice.Authorization);
    expect(pushed.res.status).toBe(201);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([berth?.stop(), viaCdn?.stop(), plain?.stop(), upstream?.stop()]);
    await Promise.all([publicS3?.close(), cdn?.close(), upstreamProxy?.close()]);
    await s3?.stop();
  });

  it('answers a blob GET with a 307 to a presigned URL of exactly that object on the public endpoint, whose bytes are the blob', async () => {
    const before = publicS3.count('GET', objectPath(bucket, digest));
    const res = await client.get(blobPath, alice);
    expect(res.status, res.text()).toBe(307);
    expect(res.body.byteLength).toBe(0);
    expect(res.header('docker-content-digest')).toBe(digest);
    expect(res.header('cache-control')).toBe('no-store');
    const location = new URL(res.header('location') ?? '');
    expect(location.origin).toBe(publicS3.url);
    expect(location.pathname).toBe(objectPath(bucket, digest));
    expect(Number(location.searchParams.get('X-Amz-Expires'))).toBe(600);
    // The signature and the key id, nothing more: no secret, and no internal address of the store.
    expect(location.href).not.toContain(s3.secretAccessKey);
    expect(location.href).not.toContain(new URL(s3.endpoint).host);
    expect(JSON.stringify(res.headers)).not.toContain(new URL(s3.endpoint).host);

    const fetched = await follow(location.href);
    expect(fetched.status).toBe(200);
    expect(fetched.header('content-type')).toBe('application/octet-stream');
    expect(digestOf(fetched.body)).toBe(digest);
    // The bytes came from the store, through its public name; berth answered a 307 and sent none.
    expect(publicS3.count('GET', objectPath(bucket, digest))).toBe(before + 1);
    expect(logged(berth, blobPath).filter((l) => l.method === 'GET').map((l) => l.status)).toEqual([307]);
  });

  it('grants that one object only: the same signature on another key is refused by the store', async () => {
    const res = await client.get(blobPath, alice);
    const location = new URL(res.header('location') ?? '');
    location.pathname = objectPath(bucket, digestOf('something else'));
    expect((await follow(location.href)).status).toBe(403);
  });

  it('lets a Range GET go to the store with the client, which answers it; an unsatisfiable range is refused here', async () => {
    const res = await client.get(blobPath, { ...alice, Range: 'bytes=1000000-1999999' });
    expect(res.status).toBe(307);
    const part = await follow(res.header('location') ?? '', { Range: 'bytes=1000000-1999999' });
    expect(part.status).toBe(206);
    expect(part.header('content-range')).toBe(`bytes 1000000-1999999/${blob.byteLength}`);
    expect(part.body.equals(blob.subarray(1_000_000, 2_000_000))).toBe(true);

    const beyond = await client.get(blobPath, { ...alice, Range: `bytes=${blob.byteLength}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.header('content-range')).toBe(`bytes */${blob.byteLength}`);
    expect(beyond.header('location')).toBeUndefined();
  });

  it('keeps HEAD local: size and digest from storage, no redirect', async () => {
    const before = publicS3.requests.length;
    const res = await client.head(blobPath, alice);
    expect(res.status).toBe(200);
    expect(res.header('content-length')).toBe(String(blob.byteLength));
    expect(res.header('docker-content-digest')).toBe(digest);
    expect(res.header('location')).toBeUndefined();
    expect(publicS3.requests.length).toBe(before);
  });

  it('never redirects a request the gate refuses, nor a blob the repository does not link', async () => {
    const refused = [
      await client.get(blobPath),
      await client.get(blobPath, { Authorization: basic('alice', 'wrong') }),
      await client.get(blobPath, bob),
      // bob's own namespace does not link the blob: stored under its digest is not enough.
      await client.get(`/v2/bob/app/blobs/${digest}`, bob),
      await client.get(`/v2/team/other/blobs/${digest}`, alice),
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 403, 404, 404]);
    expect(refused.map(errorCode)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'DENIED', 'BLOB_UNKNOWN', 'BLOB_UNKNOWN']);
    for (const r of refused) {
      expect(r.header('location')).toBeUndefined();
      expect(r.text()).not.toContain('X-Amz');
    }
  });

  it('names the CDN under a base URL, which reaches the store with the store’s own Host', async () => {
    const before = cdn.count('GET', objectPath(bucket, digest));
    const res = await new Client(viaCdn.url).get(blobPath);
    expect(res.status).toBe(307);
    const location = new URL(res.header('location') ?? '');
    expect(location.origin).toBe(cdn.url);
    expect(location.pathname).toBe(objectPath(bucket, digest));
    expect(location.href).not.toContain(new URL(s3.endpoint).host);
    const fetched = await follow(location.href);
    expect(fetched.status).toBe(200);
    expect(digestOf(fetched.body)).toBe(digest);
    expect(cdn.count('GET', objectPath(bucket, digest))).toBe(before + 1);
  });

  it('streams the blob itself when redirects are off (the default)', async () => {
    const res = await new Client(plain.url).get(blobPath);
    expect(res.status).toBe(200);
    expect(res.header('location')).toBeUndefined();
    expect(digestOf(res.body)).toBe(digest);
  });

  it('streams a mirrored blob from the fill while it is fetched, and redirects to it once committed', async () => {
    const bytes = randomBytes(2 * MiB);
    const mirrored = digestOf(bytes);
    const pushed = await pushBlob(upstream.url, 'lib/app', bytes);
    expect(pushed.res.status).toBe(201);
    // The upstream's blob arrives over about 3 s: long enough for a second client to join the fill.
    upstreamProxy.fault = (r) => (r.method === 'GET' && r.path.includes('/blobs/') ? { kind: 'slow', bytes: 64 * 1024, ms: 100 } : undefined);
    const path = `/v2/up/lib/app/blobs/${mirrored}`;

    const first = download(`${berth.url}${path}`, alice);
    const firstHead = await first.head;
    let firstDone = false;
    void first.body.then(() => (firstDone = true));
    expect(firstHead.status).toBe(200);
    expect(firstHead.headers.location).toBeUndefined();
    const second = download(`${berth.url}${path}`, alice);
    const secondHead = await second.head;
    expect(secondHead.status).toBe(200);
    expect(secondHead.headers.location).toBeUndefined();
    expect(firstDone, 'the fill ended before the second client asked: the machine is too slow for this test').toBe(false);
    expect(digestOf(await first.body)).toBe(mirrored);
    expect(digestOf(await second.body)).toBe(mirrored);
    expect(upstreamProxy.count('GET', `/blobs/${mirrored}`)).toBe(1);
    expect(publicS3.count('GET', objectPath(bucket, mirrored))).toBe(0);
    upstreamProxy.fault = undefined;

    // Committed: the next GET goes to the store. (The fill's bookkeeping ends just after its last
    // byte reached the clients, so the first GET after may still stream.)
    let res = await client.get(path, alice);
    for (let i = 0; i < 50 && res.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await client.get(path, alice);
    }
    expect(res.status).toBe(307);
    const fetched = await follow(res.header('location') ?? '');
    expect(digestOf(fetched.body)).toBe(mirrored);
    expect(publicS3.count('GET', objectPath(bucket, mirrored))).toBe(1);
    expect(upstreamProxy.count('GET', `/blobs/${mirrored}`)).toBe(1);
  });
});
