/**
 * Quotas and immutable tags across replicas on one bucket (issue 17 on issue 14's fleet): the push
 * that passes a quota is refused whichever replica takes it, though another replica stored what
 * fills it; a protected tag pushed through one replica cannot be moved through another; and of
 * pushes racing to create one protected tag with different manifests through two replicas exactly
 * one wins, with nothing shared but the bucket (the tag's first write is create-only) and with
 * Redis. With Redis, pushes racing for a quota's last room through two replicas take fleet-wide
 * turns, so exactly the ones that fit are stored (without it they may pass the limit by one
 * manifest per replica: src/registry/quotas.ts). Retention, run by every replica's scheduler,
 * deletes a tag that every replica then stops serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../support/fleet.ts';
import { Client } from '../support/http.ts';
import { blob, descriptorOf, digestOf, errorCode, imageManifest, json, mediaTypes, pushBlob, putManifest } from '../support/oci.ts';
import { hasRedis, startRedis, type RedisServer } from '../support/redis.ts';
import { s3Available, startS3, type S3Server } from '../support/s3.ts';
import { writeConfig } from '../support/mirror.ts';
import { digestAt } from './checks.ts';

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;
const describeRedis = hasRedis || process.env.CI ? describe : describe.skip;

/** Room for two of the images below (a 3000-byte layer, a small config and a manifest: some 3.6 kB each), not three. */
const limit = 9000;

const rules = {
  tags: { immutable: [{ repositories: ['team/**'], patterns: ['v\\d+\\.\\d+\\.\\d+'] }] },
  // `race`: room for one such image.
  quotas: { limits: [{ prefix: 'quota', maxSize: limit }, { prefix: 'race', maxSize: 5000 }] },
  // Every replica applies it every second, as a fleet with one configuration does.
  retention: { interval: '1s', rules: [{ repositories: ['kept/**'], keepTags: [{ mostRecentlyPushedCount: 1 }] }] },
};

/** An image of its own (random config and layer) with its blobs uploaded through `via`; the manifest is not pushed. */
async function prepare(via: Client, repo: string, layerSize = 3000): Promise<Buffer> {
  const config = json({ architecture: 'amd64', os: 'linux', nonce: blob(8).toString('hex') });
  const layer = blob(layerSize);
  await pushBlob(via, repo, config);
  await pushBlob(via, repo, layer);
  return imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [descriptorOf(layer, mediaTypes.ociLayer)] });
}

const push = (via: Client, repo: string, tag: string, manifest: Buffer) => putManifest(via, repo, tag, manifest, mediaTypes.ociManifest);

/** The refusal's status, code and message. */
const refusal = (res: Awaited<ReturnType<typeof push>>) => ({
  status: res.status,
  code: errorCode(res),
  message: res.status >= 400 ? res.json<{ errors: Array<{ message: string }> }>().errors[0]?.message : undefined,
});

/** The checks every fleet passes, coordinated or not. */
function sharedRules(fleet: () => Fleet): void {
  const replicas = (): [Client, Client] => fleet().replicas.map((r) => new Client(r.url)) as [Client, Client];

  it('refuses the push that passes a quota whichever replica takes it, counting what the other stored', async () => {
    const [a, b] = replicas();
    // Each replica counts the prefix before anything is in it.
    expect((await push(a, 'quota/one', 'first', await prepare(a, 'quota/one'))).status).toBe(201);
    // B counts A's image; A has not seen B's when it is asked next.
    expect((await push(b, 'quota/two', 'second', await prepare(b, 'quota/two'))).status).toBe(201);
    const third = await prepare(a, 'quota/one');
    for (const via of [a, b]) {
      const res = await push(via, 'quota/one', 'third', third);
      const refused = refusal(res);
      expect(refused).toMatchObject({ status: 403, code: 'DENIED' });
      expect(refused.message).toMatch(/^quota exceeded: repositories under quota may hold .+ \(quotas\.limits\[0\]\); they hold /);
      // Both images, whichever replica stored them.
      const { used } = res.json<{ errors: Array<{ detail: { used: number } }> }>().errors[0]!.detail;
      expect(used).toBeGreaterThan(2 * 3000);
    }
    for (const via of [a, b]) expect(await digestAt(via, 'quota/one', 'third')).toBe(404);
  });

  it('keeps a protected tag pushed through one replica where it is when another is asked to move or delete it', async () => {
    const [a, b] = replicas();
    const first = await prepare(a, 'team/app', 100);
    const other = await prepare(a, 'team/app', 100);
    expect((await push(a, 'team/app', 'v1.0.0', first)).status).toBe(201);
    const moved = refusal(await push(b, 'team/app', 'v1.0.0', other));
    expect(moved).toMatchObject({ status: 409, code: 'DENIED' });
    expect(moved.message).toContain(`tag v1.0.0 in team/app is immutable (tags.immutable[0]`);
    expect(moved.message).toContain(digestOf(first));
    expect(refusal(await b.request('DELETE', '/v2/team/app/manifests/v1.0.0'))).toMatchObject({ status: 409, code: 'DENIED' });
    expect(refusal(await b.request('DELETE', `/v2/team/app/manifests/${digestOf(first)}`))).toMatchObject({ status: 409, code: 'DENIED' });
    for (const via of [a, b]) expect(await digestAt(via, 'team/app', 'v1.0.0')).toBe(digestOf(first));
    // The same manifest again, through either, is no move.
    expect((await push(b, 'team/app', 'v1.0.0', first)).status).toBe(201);
  });

  it('lets exactly one of two pushes racing to create a protected tag through two replicas win, and keeps the tag on the winner', async () => {
    const [a, b] = replicas();
    for (let round = 0; round < 6; round++) {
      const tag = `v2.0.${round}`;
      const [forA, forB] = [await prepare(a, 'team/race', 100), await prepare(b, 'team/race', 100)];
      const [ra, rb] = await Promise.all([push(a, 'team/race', tag, forA), push(b, 'team/race', tag, forB)]);
      const statuses = [ra.status, rb.status].sort();
      expect(statuses, `round ${round}: ${ra.text()} ${rb.text()}`).toEqual([201, 409]);
      const [loser, winner] = ra.status === 201 ? [rb, forA] : [ra, forB];
      expect(refusal(loser).message).toContain(`tag ${tag} in team/race is immutable (tags.immutable[0]`);
      expect(refusal(loser).message).toContain(digestOf(winner));
      for (const via of [a, b]) expect(await digestAt(via, 'team/race', tag), `round ${round}`).toBe(digestOf(winner));
    }
  });

  it('shows every replica what the scheduled retention deleted, whichever replica ran it', async () => {
    const [a, b] = replicas();
    const old = await prepare(a, 'kept/app', 100);
    expect((await push(a, 'kept/app', 'old', old)).status).toBe(201);
    // Read (and cached, where a cache is trusted) on both before it goes.
    for (const via of [a, b]) expect(await digestAt(via, 'kept/app', 'old')).toBe(digestOf(old));
    // Push times are whole seconds on S3: the newer tag is a second later.
    await new Promise((r) => setTimeout(r, 1_100));
    const next = await prepare(b, 'kept/app', 100);
    expect((await push(b, 'kept/app', 'new', next)).status).toBe(201);
    // The pass deletes the tag, then the manifest only it reached.
    const gone = async (): Promise<boolean> => (await digestAt(b, 'kept/app', 'old')) === 404 && (await digestAt(b, 'kept/app', digestOf(old))) === 404;
    for (let waited = 0; !(await gone()); waited += 250) {
      if (waited > 60_000) throw new Error('the scheduled retention did not delete kept/app:old');
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const via of [a, b]) {
      expect(await digestAt(via, 'kept/app', 'old')).toBe(404);
      expect(await digestAt(via, 'kept/app', digestOf(old))).toBe(404);
      expect(await digestAt(via, 'kept/app', 'new')).toBe(digestOf(next));
    }
    // Both replicas' passes ran beside each other without failing, and no request failed.
    for (const r of fleet().replicas) expect(r.logs().split('\n').filter((l) => l.includes('"level":"error"') || l.includes('"msg":"retention rules failed"'))).toEqual([]);
  });
}

describeS3('quotas and immutable tags on two replicas of one bucket', () => {
  let s3: S3Server;
  let config: string;
  beforeAll(async () => {
    s3 = await startS3();
    config = await writeConfig(JSON.stringify(rules));
  }, 240_000);
  afterAll(async () => {
    await s3?.stop();
  });

  describe('with nothing shared but the bucket', () => {
    let fleet: Fleet;
    beforeAll(async () => {
      fleet = await startFleet({ s3, size: 2, args: ['--config', config] });
    }, 240_000);
    afterAll(async () => {
      await fleet?.stop();
    });
    sharedRules(() => fleet);
  });

  describeRedis('with Redis (coordination.redis)', () => {
    let fleet: Fleet;
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
      // A Redis slower than its timeout is no Redis (each replica takes its own turns): on a loaded
      // test machine the default 250 ms can pass, and the exact quota is what is tested here.
      fleet = await startFleet({
        s3,
        size: 2,
        args: ['--config', config],
        env: { BERTH_COORDINATION__REDIS__URL: redis.url, BERTH_COORDINATION__REDIS__TIMEOUT: '10s' },
      });
    }, 240_000);
    afterAll(async () => {
      await fleet?.stop();
      await redis?.close();
    });
    sharedRules(() => fleet);

    it('of pushes racing through two replicas for the room one image leaves, stores exactly one', async () => {
      const [a, b] = fleet.replicas.map((r) => new Client(r.url)) as [Client, Client];
      const via = (i: number): Client => (i % 2 === 0 ? a : b);
      const images = await Promise.all([0, 1, 2, 3].map((i) => prepare(via(i), `race/${i}`)));
      const results = await Promise.all(images.map((m, i) => push(via(i), `race/${i}`, 'latest', m)));
      expect(results.map((r) => r.status).sort(), results.map((r) => r.text()).join('\n')).toEqual([201, 403, 403, 403]);
      const stored = await Promise.all(images.map((_, i) => digestAt(via(i + 1), `race/${i}`, 'latest')));
      expect(stored.filter((d) => d !== 404)).toHaveLength(1);
    });
  });
});
