import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runConformance } from '../../conformance/suite.ts';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { Client } from '../support/http.ts';
import { descriptorOf, digestOf, imageManifest, mediaTypes, pushBlob, pushManifest } from '../support/oci.ts';
import { hasRedis, startRedis, type RedisServer } from '../support/redis.ts';
import { s3Available } from '../support/s3.ts';
import { digestAt, expectBlobDeletesSeenEverywhere, expectTagsAndManifestsSeenEverywhere } from './checks.ts';

const describeFleet = (s3Available && hasRedis) || process.env.CI ? describe : describe.skip;

/** A counter or gauge of a replica's /metrics: the sum of its samples whose labels contain `labels`. */
async function metric(via: Client, name: string, labels = ''): Promise<number> {
  const text = (await via.get('/metrics')).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Three replicas on one bucket sharing a real redis-server (coordination.redis): the same
 * read-your-writes as without it, from memory instead of storage, and the same again while Redis
 * is down and after it came back empty.
 */
describeFleet('three replicas with Redis: a coherent shared cache', () => {
  let redis: RedisServer;
  let fleet: Fleet;
  let replicas: Client[];

  beforeAll(async () => {
    redis = await startRedis();
    fleet = await startFleet({ env: { BERTH_COORDINATION__REDIS__URL: redis.url } });
    replicas = fleet.replicas.map((r) => new Client(r.url));
    await until('every replica reaches Redis', async () => (await Promise.all(replicas.map((c) => metric(c, 'berth_coordination_up')))).every((v) => v === 1));
  }, 240_000);
  afterAll(async () => {
    await fleet?.stop();
    await redis?.close();
  });

  it('passes the conformance suite through a round-robin balancer', async () => {
    const summary = await runConformance({ url: fleet.url });
    expect(summary.results.filter((r) => r.status !== 'pass').map(formatResult)).toEqual([]);
    expect({ failed: summary.failed, skipped: summary.skipped }).toEqual({ failed: 0, skipped: 0 });
  }, 600_000);

  it('sees tag moves, tag deletes and manifest deletes everywhere at once', async () => {
    await expectTagsAndManifestsSeenEverywhere(replicas, 'redis/moves');
  });

  it('sees blob deletes everywhere at once', async () => {
    await expectBlobDeletesSeenEverywhere(replicas, 'redis/blobs');
  });

  it('serves a hot manifest GET by tag from memory, without reading storage', async () => {
    const [a, b] = replicas as [Client, Client];
    const repo = 'redis/hot';
    const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
    await pushBlob(a, repo, config);
    const manifest = imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [] });
    await pushManifest(a, repo, 'hot', manifest);
    expect(await digestAt(b, repo, 'hot')).toBe(digestOf(manifest));
    const gets = (): Promise<number> => metric(b, 'berth_storage_operation_duration_seconds_count', 'operation="get"');
    const hits = (): Promise<number> => metric(b, 'berth_cache_reads_total', 'result="hit"');
    const [getsBefore, hitsBefore] = [await gets(), await hits()];
    for (let i = 0; i < 20; i++) expect(await digestAt(b, repo, 'hot')).toBe(digestOf(manifest));
    expect(await gets()).toBe(getsBefore);
    // The tag, the link and the manifest's bytes, 20 times.
    expect((await hits()) - hitsBefore).toBeGreaterThanOrEqual(60);
  });

  // Last: it stops Redis.
  it('keeps every replica exact while Redis is down, says so, and comes back by itself when Redis does (empty)', async () => {
    const [a, b, c] = replicas as [Client, Client, Client];
    const repo = 'redis/outage';
    const config = Buffer.from('{"architecture":"s390x","os":"linux"}');
    await pushBlob(a, repo, config);
    const [one, two, three] = [1, 2, 3].map((i) => imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [], annotations: { n: String(i) } })) as [
      Buffer,
      Buffer,
      Buffer,
    ];
    await pushManifest(a, repo, 'v1', one);
    for (const via of replicas) expect(await digestAt(via, repo, 'v1')).toBe(digestOf(one));

    await redis.stop();
    await until('every replica sees Redis gone', async () => (await Promise.all(replicas.map((r) => metric(r, 'berth_coordination_up')))).every((v) => v === 0));
    for (const r of fleet.replicas) expect(r.logs()).toMatch(/"level":"warn".*coordination unavailable/);
    // Writes through one replica are still what the next request on another sees, from storage.
    await pushManifest(b, repo, 'v1', two);
    expect(await digestAt(a, repo, 'v1')).toBe(digestOf(two));
    expect(await digestAt(c, repo, 'v1')).toBe(digestOf(two));
    expect((await c.request('DELETE', `/v2/${repo}/manifests/v1`)).status).toBe(202);
    expect(await digestAt(a, repo, 'v1')).toBe(404);
    // The writers could not announce their writes: counted. A reader just goes to storage.
    for (const writer of [b, c]) expect(await metric(writer, 'berth_coordination_errors_total')).toBeGreaterThan(0);

    // Redis back, without any of what it held.
    await redis.start();
    await until('every replica reconnects', async () => (await Promise.all(replicas.map((r) => metric(r, 'berth_coordination_up')))).every((v) => v === 1));
    for (const r of fleet.replicas) expect(r.logs()).toMatch(/coordination restored/);
    await pushManifest(a, repo, 'v1', three);
    for (const via of replicas) expect(await digestAt(via, repo, 'v1')).toBe(digestOf(three));
    // And the cache works again: repeated reads come from memory.
    const hits = await metric(c, 'berth_cache_reads_total', 'result="hit"');
    for (let i = 0; i < 5; i++) expect(await digestAt(c, repo, 'v1')).toBe(digestOf(three));
    expect(await metric(c, 'berth_cache_reads_total', 'result="hit"')).toBeGreaterThan(hits);
    await pushManifest(b, repo, 'v1', one);
    for (const via of [a, c]) expect(await digestAt(via, repo, 'v1')).toBe(digestOf(one));
  }, 180_000);
});
