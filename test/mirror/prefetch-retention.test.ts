/**
 * Prefetch never evicts what it fetched (issue 16): a berth mirror with `retention.maxSize`, in
 * front of CNCF distribution behind the counting fault proxy. An older image is pulled and goes
 * out of use; `berth mirror prefetch` then fetches the configured image into the same storage, and
 * the background sweeps expire the older image and keep every manifest and blob prefetch fetched,
 * sweep after sweep (served with the upstream down). When the prefetched set alone exceeds
 * `maxSize`, it stays whole all the same and the sweep says so in a warning.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { allManifestTypes, pullAll, pushHttpImage, pushHttpIndex, writeConfig, type Descriptor } from '../support/mirror.ts';
import { berthCommand, logged, startServer, testRuntime } from '../support/server.ts';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const describeRetention = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;

describeRetention('mirror prefetch and retention by size', () => {
  let distribution: Distribution;
  let proxy: FaultProxy;
  let old: Descriptor;
  let warm: { index: Descriptor; everything: string[] };
  const dirs: string[] = [];

  beforeAll(async () => {
    distribution = await startDistribution();
    proxy = await startFaultProxy(distribution.url);
    // The prefetched image: two platforms of ~20 kB each, ~41 kB in all. The old one: ~25 kB, which alone fits either limit.
    const images = await Promise.all((['amd64', 'arm64'] as const).map((architecture) => pushHttpImage(distribution.url, 'library/tool', [randomBytes(20_000)], { architecture })));
    const index = await pushHttpIndex(distribution.url, 'library/tool', 'latest', images);
    warm = { index, everything: [index.digest, ...images.flatMap((i) => [i.digest, ...i.blobs])] };
    old = await pushHttpIndex(distribution.url, 'library/old', 'v1', [await pushHttpImage(distribution.url, 'library/old', [randomBytes(25_000)])]);
  });

  afterAll(async () => {
    await proxy?.close();
    await distribution?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /**
   * The old image pulled and left unused for a few sweeps, then `berth mirror prefetch` on the
   * same storage; returns the sweeps logged after it, once `sweeps` of them ran, and the server's log.
   */
  async function scenario(maxSize: string, check: (after: Array<Record<string, number>>, logs: string, url: string) => Promise<void>): Promise<void> {
    const data = await mkdtemp(join(tmpdir(), 'berth-prefetch-retention-'));
    dirs.push(data);
    const config = await writeConfig(
      [
        'mirror:',
        '  upstreams:',
        `    - { name: dist, url: "${proxy.url}", prefix: dist, tagTtl: 1h }`,
        `  retention: { maxSize: ${maxSize}, interval: 1s }`,
        '  prefetch:',
        '    images:',
        '      - { name: dist/library/tool, tags: [latest] }',
        '',
      ].join('\n'),
    );
    proxy.reset();
    const server = await startServer({ args: ['--config', config], dataDir: data });
    const sweeps = (): Array<Record<string, number>> => logged(server, 'mirror retention sweep') as Array<Record<string, number>>;
    const waitSweeps = async (n: number): Promise<void> => {
      for (let i = 0; i < 300 && sweeps().length < n; i++) await sleep(100);
      expect(sweeps().length, server.logs()).toBeGreaterThanOrEqual(n);
    };
    try {
      expect((await pullAll(server.url, 'dist/library/old', 'v1')).digest).toBe(old.digest);
      // One sweep sees the pull as recent; the ones after see the old image unused.
      await waitSweeps(sweeps().length + 3);
      expect(sweeps().every((s) => s.manifestsExpired === 0)).toBe(true);

      const [bin, args] = berthCommand(testRuntime);
      const { stdout } = await run(bin, [...args, 'mirror', 'prefetch', '--config', config, '--data', data], { timeout: 120_000 });
      expect(stdout).toContain('1 images, 1 tags, 3 manifests');
      const seen = sweeps().length;
      await waitSweeps(seen + 4);
      await check(sweeps().slice(seen), server.logs(), server.url);

      // Everything prefetch fetched is here, whole, with the upstream gone; the old image is not.
      proxy.reset();
      proxy.fault = () => ({ kind: 'reset' });
      const pulled = await pullAll(server.url, 'dist/library/tool', 'latest');
      expect(pulled.fetched.sort()).toEqual([...warm.everything].sort());
      expect(proxy.requests).toEqual([]);
      const head = await fetch(`${server.url}/v2/dist/library/old/manifests/${old.digest}`, { method: 'HEAD', headers: { Accept: allManifestTypes } });
      expect(head.status).toBe(503);
    } finally {
      proxy.reset();
      await server.stop();
    }
  }

  it('expires the older image to make room and keeps everything prefetch fetched', async () => {
    await scenario('50KiB', async (after, logs) => {
      // The old image (its index and image manifest) goes in one sweep, and nothing after it.
      const expired = after.filter((s) => (s.manifestsExpired ?? 0) > 0);
      expect(expired, logs).toHaveLength(1);
      expect(expired[0]).toMatchObject({ manifestsExpired: 2, tagsExpired: 1 });
      expect(expired[0]!.bytesBefore).toBeGreaterThan(50 * 1024);
      expect(expired[0]!.bytesAfter).toBeLessThanOrEqual(50 * 1024);
      expect(expired[0]!.bytesPinned).toBeGreaterThan(40_000);
      expect(logs).not.toContain('mirror prefetch set exceeds retention maxSize');
    });
  });

  it('keeps the prefetched image whole when it alone exceeds maxSize, and warns', async () => {
    await scenario('30KiB', async (after, logs) => {
      const expired = after.filter((s) => (s.manifestsExpired ?? 0) > 0);
      expect(expired, logs).toHaveLength(1);
      expect(expired[0]).toMatchObject({ manifestsExpired: 2, tagsExpired: 1 });
      // Over the limit by what is pinned, sweep after sweep.
      for (const s of after.slice(after.indexOf(expired[0]!))) expect(s.bytesAfter).toBe(s.bytesPinned);
      expect(expired[0]!.bytesAfter).toBeGreaterThan(30 * 1024);
      const warning = logged({ logs: () => logs }, 'mirror prefetch set exceeds retention maxSize');
      expect(warning.length).toBeGreaterThan(0);
      expect(warning[0]).toMatchObject({ level: 'warn', maxSize: 30 * 1024, bytesPinned: expired[0]!.bytesPinned });
    });
  });
});
