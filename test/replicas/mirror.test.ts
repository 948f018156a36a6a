import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { pullAll, pushHttpImage, pushHttpIndex, writeConfig } from '../support/mirror.ts';
import { hasRedis, startRedis, type RedisServer } from '../support/redis.ts';
import { s3Available } from '../support/s3.ts';

const hasDistribution = await import('node:child_process').then(
  ({ execFileSync }) => {
    try {
      execFileSync('sh', ['-c', 'command -v docker-registry']);
      return true;
    } catch {
      return false;
    }
  },
);
const describeFleet = (s3Available && hasRedis && hasDistribution) || process.env.CI ? describe : describe.skip;

/**
 * The mirror's one upstream fetch per digest, across a fleet: three replicas on one bucket, sharing
 * Redis, mirror CNCF distribution (behind a proxy that counts its requests). However the pulls are
 * spread over the replicas, each blob and manifest is fetched from the upstream once.
 */
describeFleet('mirror across three replicas with Redis: one upstream GET per digest', () => {
  let redis: RedisServer;
  let upstream: Distribution;
  let proxy: FaultProxy;
  let fleet: Fleet;

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startDistribution();
    proxy = await startFaultProxy(upstream.url);
    const config = await writeConfig(['mirror:', '  upstreams:', `    - { name: up, url: "${proxy.url}", prefix: up }`, 'coordination:', `  redis: { url: "${redis.url}" }`, ''].join('\n'));
    fleet = await startFleet({ args: ['--config', config] });
  }, 240_000);
  afterAll(async () => {
    await fleet?.stop();
    await proxy?.close();
    await upstream?.stop();
    await redis?.close();
  });

  it('8 concurrent cold pulls spread over the replicas make exactly one upstream GET per blob and per manifest', async () => {
    const layers = [randomBytes(2 << 20), randomBytes(700_000), randomBytes(3 << 20)];
    const amd = await pushHttpImage(upstream.url, 'team/fleet', layers, { architecture: 'amd64' });
    const arm = await pushHttpImage(upstream.url, 'team/fleet', [layers[0]!, randomBytes(1 << 20)], { architecture: 'arm64' });
    const index = await pushHttpIndex(upstream.url, 'team/fleet', 'v1', [amd, arm]);
    proxy.reset();
    // Slow blob bodies, so the pulls overlap while the first replica's fetches run.
    proxy.fault = (r) => (r.method === 'GET' && r.path.includes('/blobs/') ? { kind: 'slow', bytes: 64 << 10, ms: 5 } : undefined);

    const pulls = await Promise.all(Array.from({ length: 8 }, (_, i) => pullAll(fleet.replicas[i % 3]!.url, 'up/team/fleet', 'v1')));
    for (const pull of pulls) expect(pull.digest).toBe(index.digest);

    const blobs = [...new Set([...amd.blobs, ...arm.blobs])];
    for (const digest of blobs) expect(proxy.count('GET', `/blobs/${digest}`), digest).toBe(1);
    for (const digest of [amd.digest, arm.digest]) expect(proxy.count('GET', `/manifests/${digest}`), digest).toBe(1);
    expect(proxy.count('GET', '/manifests/v1')).toBe(1);
    // Every replica served some of it: the others waited for the one fetching.
    const served = fleet.replicas.map((r) => (r.logs().match(/"path":"\/v2\/up\/team\/fleet\/blobs\//g) ?? []).length);
    expect(served.every((n) => n > 0), served.join(',')).toBe(true);
  });
});
