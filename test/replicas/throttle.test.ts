import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../support/auth.ts';
import { Client } from '../support/http.ts';
import { hasRedis, startRedis, type RedisServer } from '../support/redis.ts';
import { startServer, type TestServer } from '../support/server.ts';

const describeRedis = hasRedis || process.env.CI ? describe : describe.skip;

const basic = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/**
 * Failed logins counted across the fleet (coordination.redis): a guesser who spreads tries over
 * three replicas meets one count, not three.
 */
describeRedis('login throttle shared by three replicas through Redis', () => {
  let redis: RedisServer;
  let dir: string;
  let replicas: TestServer[];
  let clients: Client[];

  beforeAll(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'berth-throttle-'));
    const config = join(dir, 'berth.json');
    await writeFile(
      config,
      JSON.stringify({
        auth: {
          mode: 'basic',
          users: { alice: { password: hashPassword('right') } },
          rules: [{ users: ['alice'], repositories: ['**'], actions: ['pull', 'push'] }],
          // Long enough that no wait runs out while the test goes on, on a busy machine.
          throttle: { attempts: 3, addressAttempts: 100, delay: '60s', maxDelay: '5m' },
        },
        coordination: { redis: { url: redis.url } },
      }),
    );
    replicas = await Promise.all([0, 1, 2].map(() => startServer({ args: ['--config', config] })));
    clients = replicas.map((r) => new Client(r.url));
  }, 120_000);
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses the next try on any replica once the failures spread over all of them reach the limit', async () => {
    const [a, b, c] = clients as [Client, Client, Client];
    expect((await a.get('/v2/', basic('alice', 'right'))).status).toBe(200);
    // Three failures, one per replica: each alone would still allow two more.
    for (const via of [a, b, c]) expect((await via.get('/v2/', basic('alice', 'wrong'))).status).toBe(401);
    for (const via of [a, b, c]) {
      const res = await via.get('/v2/', basic('alice', 'right'));
      expect(res.status, via.base.host).toBe(429);
      expect(res.json()).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS' }] });
      expect(Number(res.header('retry-after'))).toBeGreaterThan(0);
    }
    // The count lives in Redis, under berth's prefix.
    expect(await redis.cli('--scan', '--pattern', 'berth:login:user:alice')).toBe('berth:login:user:alice');
  });
});
