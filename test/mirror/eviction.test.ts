/**
 * Size-based eviction for real: a berth mirror with `retention.maxSize` below two pulled images, in
 * front of CNCF distribution behind the fault proxy. The background sweep expires the least recently
 * used image and deletes its bytes itself (no gc configured), keeps the other whole (pullable with the
 * upstream down), and never deletes the layer both share. Runs on S3 too (TEST_STORAGE=s3).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Distribution } from '../../bench/distribution.ts';
import { parseDigest } from '../../src/oci/digest.ts';
import { layout } from '../../src/registry/layout.ts';
import { hasTool } from '../support/auth.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { allManifestTypes, pullAll, pushHttpImage, pushHttpIndex, startMirrorStack, type Descriptor, type MirrorStack } from '../support/mirror.ts';
import { logged, type TestServer } from '../support/server.ts';
import { testStorage } from '../support/storage.ts';

const describeEviction = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Image {
  index: Descriptor;
  child: Descriptor & { blobs: string[] };
}

describeEviction('mirror retention by size (maxSize)', () => {
  let stack: MirrorStack;
  let upstream: Distribution;
  let proxy: FaultProxy;
  let mirror: TestServer;
  let a: Image;
  let b: Image;
  let shared: string;
  let onlyA: string;

  /** A one-platform index over an image of the shared layer and one of its own, as `repo:v1`. */
  async function push(repo: string, sharedLayer: Uint8Array<ArrayBuffer>): Promise<Image> {
    const child = await pushHttpImage(upstream.url, repo, [sharedLayer, randomBytes(300_000)]);
    return { child, index: await pushHttpIndex(upstream.url, repo, 'v1', [child]) };
  }

  /** The sweeps logged so far, as their reports. */
  const sweeps = (): Array<Record<string, number>> => logged(mirror, 'mirror retention sweep') as Array<Record<string, number>>;

  beforeAll(async () => {
    // Each image is ~500 kB; both ~800 kB, the shared layer counted once. 700 KiB holds one.
    stack = await startMirrorStack((url) => [`upstreams: [{ name: up, url: "${url}", prefix: up, tagTtl: 1h }]`, 'retention: { maxSize: 700KiB, interval: 1 }']);
    ({ upstream, proxy, mirror } = stack);
    const sharedLayer = randomBytes(200_000);
    a = await push('evict/a', sharedLayer);
    b = await push('evict/b', sharedLayer);
    shared = a.child.blobs[1]!;
    onlyA = a.child.blobs[2]!;
  });

  afterAll(() => stack?.stop());

  it('expires the least recently used image and frees its bytes, keeping the shared layer', async () => {
    expect((await pullAll(mirror.url, 'up/evict/a', 'v1')).digest).toBe(a.index.digest);
    // Let sweeps record A's use, so B's pull is later by whole intervals, and A's bytes are older
    // than the sweep that will find them unneeded (it keeps what was written while it ran).
    const seen = sweeps().length;
    for (let i = 0; i < 100 && sweeps().length < seen + 3; i++) await sleep(100);
    expect(sweeps().slice(seen).every((s) => s.manifestsExpired === 0)).toBe(true);
    expect((await pullAll(mirror.url, 'up/evict/b', 'v1')).digest).toBe(b.index.digest);

    let evicted: Record<string, number> | undefined;
    for (let i = 0; i < 150 && !evicted; i++, await sleep(100)) evicted = sweeps().find((s) => (s.manifestsExpired ?? 0) > 0);
    expect(evicted, mirror.logs()).toBeDefined();
    // A's index and image manifest expire; the sweep frees their bytes and A's own layer (A's config
    // is byte for byte B's, so it stays with the shared layer).
    expect(evicted).toMatchObject({ manifestsExpired: 2, tagsExpired: 1, blobsDeleted: 3 });
    expect(evicted!.bytesFreed).toBeGreaterThan(300_000);
    expect(evicted!.bytesBefore).toBeGreaterThan(700 * 1024);
    expect(evicted!.bytesAfter).toBeLessThanOrEqual(700 * 1024);
    if (testStorage === 'fs') {
      expect(existsSync(join(mirror.dataDir, layout.blob(parseDigest(onlyA))))).toBe(false);
      expect(existsSync(join(mirror.dataDir, layout.blob(parseDigest(shared))))).toBe(true);
    }
  });

  it('serves the recently used image whole with the upstream down', async () => {
    proxy.reset();
    proxy.fault = () => ({ kind: 'reset' });
    try {
      const pulled = await pullAll(mirror.url, 'up/evict/b', 'v1');
      expect(pulled.fetched.sort()).toEqual([b.index.digest, b.child.digest, ...b.child.blobs].sort());
      expect(pulled.fetched).toContain(shared);
      expect(proxy.requests).toEqual([]);
      // A is no longer here: a HEAD by digest has to ask the upstream, which is down.
      const head = await fetch(`${mirror.url}/v2/up/evict/a/manifests/${a.index.digest}`, { method: 'HEAD', headers: { Accept: allManifestTypes } });
      expect(head.status).toBe(503);
      // At least once: Bun's HTTP client retries a reset connection.
      expect(proxy.count('GET', `/manifests/${a.index.digest}`)).toBeGreaterThanOrEqual(1);
    } finally {
      proxy.reset();
    }
  });

  it('fetches what expired again, and only that', async () => {
    const head = await fetch(`${mirror.url}/v2/up/evict/a/manifests/${a.index.digest}`, { method: 'HEAD', headers: { Accept: allManifestTypes } });
    expect(head.status).toBe(200);
    expect(proxy.count('GET', `/manifests/${a.index.digest}`)).toBe(1);
    const blob = async (digest: string): Promise<number> => (await fetch(`${mirror.url}/v2/up/evict/a/blobs/${digest}`)).arrayBuffer().then((x) => x.byteLength);
    // A's own layer was deleted, so it comes from the upstream; the shared one never left.
    expect(await blob(onlyA)).toBe(300_000);
    expect(proxy.count('GET', `/blobs/${onlyA}`)).toBe(1);
    expect(await blob(shared)).toBe(200_000);
    expect(proxy.count('GET', `/blobs/${shared}`)).toBe(0);
  });
});
