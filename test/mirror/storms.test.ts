/**
 * No upstream storms (issue 16): berth in front of CNCF distribution, with a fault-injecting proxy
 * per upstream that counts what reaches it. A tag nobody pushed is asked for once per
 * `notFoundTtl`, not once per pull; a dead upstream is not waited for while its circuit is open;
 * a rate-limited one is not asked until its window passes; a second URL serves when the first is
 * down; and `maxConnections` / `maxBytesPerSecond` hold under 16 concurrent cold pulls.
 *
 * Timeouts are long (20 s) on purpose: a request that waited for one would stand out, so "returns
 * in well under the timeout" is a statement about behaviour, not speed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { hasTool } from '../support/auth.ts';
import { allManifestTypes, fetchVerified, pullAll, pushBlob, pushHttpImage, sha256, writeConfig } from '../support/mirror.ts';
import { scrape, type TestServer } from '../support/server.ts';
import { startServerOn } from '../support/storage.ts';

const describeStorms = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (at: number): Promise<void> => sleep(Math.max(0, at - Date.now()));
/** Far below the 20 s timeouts: a request this fast did not wait for one. */
const noWait = 5_000;
/** The spec's stale Warning (299, agent "-", one quoted text) naming the upstream, whatever the reason. */
const staleFrom = (upstream: string, reason: string): RegExp => new RegExp(`^299 - "Response is stale: upstream ${upstream} ${reason}"$`);

interface Answer {
  status: number;
  ms: number;
  warning: string | null;
  retryAfter: string | null;
  digest: string | null;
  code: string | undefined;
}

describeStorms('no upstream storms', () => {
  let upstream: Distribution;
  const proxies: Record<string, FaultProxy> = {};
  let mirror: TestServer;
  const p = (name: string): FaultProxy => proxies[name]!;

  beforeAll(async () => {
    upstream = await startDistribution();
    for (const name of ['neg', 'brk', 'rl', 'cap', 'bw']) proxies[name] = await startFaultProxy(upstream.url);
    const token = { username: 'mirror', password: 'upstream-secret' };
    proxies.first = await startFaultProxy(upstream.url, { token });
    proxies.second = await startFaultProxy(upstream.url, { token });
    const config = await writeConfig(
      [
        'mirror:',
        '  timeouts: { connect: 20s, headers: 20s, body: 20s }',
        '  upstreams:',
        `    - { name: neg, url: "${p('neg').url}", prefix: neg.test, notFoundTtl: 30s }`,
        `    - { name: negshort, url: "${p('neg').url}", prefix: negshort.test, notFoundTtl: 1s }`,
        `    - { name: brk, url: "${p('brk').url}", prefix: brk.test, tagTtl: 0, breaker: { failures: 3, coolDown: 3s } }`,
        `    - { name: rl, url: "${p('rl').url}", prefix: rl.test, tagTtl: 0 }`,
        '    - name: fo',
        `      urls: ["${p('first').url}", "${p('second').url}"]`,
        '      prefix: fo.test',
        '      username: mirror',
        '      password: upstream-secret',
        '      breaker: { failures: 2, coolDown: 10m }',
        `    - { name: cap, url: "${p('cap').url}", prefix: cap.test, maxConnections: 2 }`,
        `    - { name: bw, url: "${p('bw').url}", prefix: bw.test, maxBytesPerSecond: 1MiB }`,
        '',
      ].join('\n'),
    );
    mirror = await startServerOn(undefined, { args: ['--config', config] });
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(mirror?.logs());
    await mirror?.stop();
    for (const proxy of Object.values(proxies)) await proxy.close();
    await upstream?.stop();
  });

  /** Pushes an image of these layers straight to the upstream as `repo:tag`. */
  async function pushTagged(repo: string, tag: string, layers: Uint8Array<ArrayBuffer>[] = [randomBytes(4096)]): Promise<{ digest: string; blobs: string[] }> {
    const image = await pushHttpImage(upstream.url, repo, layers);
    const bytes = await fetchVerified(upstream.url, repo, 'manifests', image.digest);
    const tagged = await fetch(`${upstream.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': image.mediaType }, body: new Uint8Array(bytes) });
    expect(tagged.status).toBe(201);
    return { digest: image.digest, blobs: image.blobs };
  }

  /** One request to berth, timed, with what the tests look at. */
  async function ask(path: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> {
    const started = performance.now();
    const res = await fetch(`${mirror.url}/v2/${path}`, { method, headers: { Accept: allManifestTypes } });
    const body = method === 'GET' ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array();
    let code: string | undefined;
    if (res.status >= 400 && method === 'GET') code = (JSON.parse(new TextDecoder().decode(body)) as { errors: Array<{ code: string }> }).errors[0]?.code;
    return {
      status: res.status,
      ms: performance.now() - started,
      warning: res.headers.get('warning'),
      retryAfter: res.headers.get('retry-after'),
      digest: res.status === 200 && method === 'GET' ? sha256(body) : res.headers.get('docker-content-digest'),
      code,
    };
  }

  const metric = (name: string, labels: string[]): Promise<number> => scrape(mirror.url, name, labels);

  const logLines = (msg: string): Array<Record<string, unknown>> =>
    mirror
      .logs()
      .split('\n')
      .filter((l) => l.includes(msg))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  describe('negative cache', () => {
    it('asks the upstream once for a tag that does not exist, however many of 100 pulls in 10 s want it', async () => {
      await pushTagged('team/neg', 'v1');
      p('neg').reset();
      const start = Date.now();
      for (let i = 0; i < 100; i++) {
        await until(start + i * 100);
        const res = await ask('neg.test/team/neg/manifests/missing');
        expect(res.status, `pull ${i}`).toBe(404);
        expect(res.code).toBe('MANIFEST_UNKNOWN');
      }
      expect(p('neg').requests.filter((r) => r.path.includes('/manifests/missing'))).toHaveLength(1);
      expect(await metric('berth_mirror_upstream_spared_total', ['upstream="neg"', 'reason="not_found"'])).toBeGreaterThanOrEqual(99);
    });

    it('does the same for a manifest digest and a blob the upstream does not have', async () => {
      const absent = sha256(randomBytes(32));
      p('neg').reset();
      for (let i = 0; i < 20; i++) {
        expect((await ask(`neg.test/team/neg/manifests/${absent}`)).code).toBe('MANIFEST_UNKNOWN');
        expect((await ask(`neg.test/team/neg/blobs/${absent}`)).code).toBe('BLOB_UNKNOWN');
        expect((await ask(`neg.test/team/neg/blobs/${absent}`, 'HEAD')).status).toBe(404);
      }
      expect(p('neg').requests.filter((r) => r.path.endsWith(`/manifests/${absent}`))).toHaveLength(1);
      expect(p('neg').requests.filter((r) => r.path.endsWith(`/blobs/${absent}`))).toHaveLength(1);
    });

    it('asks again once notFoundTtl has passed, and then finds what was pushed meanwhile', async () => {
      p('neg').reset();
      expect((await ask('negshort.test/team/later/manifests/v1')).status).toBe(404);
      const { digest } = await pushTagged('team/later', 'v1');
      // Within the TTL the "not found" stands, without asking.
      expect((await ask('negshort.test/team/later/manifests/v1')).status).toBe(404);
      expect(p('neg').requests.filter((r) => r.path.includes('/team/later/'))).toHaveLength(1);
      await sleep(1_200);
      const found = await ask('negshort.test/team/later/manifests/v1');
      expect(found.status).toBe(200);
      expect(found.digest).toBe(digest);
    });
  });

  describe('circuit breaker', () => {
    let image: { digest: string; blobs: string[] };
    let uncached: string;
    let openedAt = 0;

    it('opens after 3 failures in a row, serving the cached tag stale meanwhile, with one log line', async () => {
      image = await pushTagged('team/brk', 'v1', [randomBytes(64 << 10)]);
      uncached = await pushBlob(upstream.url, 'team/brk', randomBytes(32 << 10));
      expect((await pullAll(mirror.url, 'brk.test/team/brk', 'v1')).digest).toBe(image.digest);
      p('brk').reset();
      p('brk').fault = () => ({ kind: 'reset' });
      for (let i = 0; i < 3; i++) {
        const res = await ask('brk.test/team/brk/manifests/v1');
        expect(res.status).toBe(200);
        expect(res.digest).toBe(image.digest);
        expect(res.warning).toMatch(staleFrom('brk', 'is unavailable: [^"]+'));
      }
      openedAt = Date.now();
      expect(await metric('berth_mirror_upstream_circuit_state', ['upstream="brk"', 'url="1"'])).toBe(2);
      expect(await metric('berth_mirror_upstream_circuit_transitions_total', ['upstream="brk"', 'to="open"'])).toBe(1);
      const opened = logLines('upstream circuit opened').filter((l) => l.upstream === 'brk');
      expect(opened).toHaveLength(1);
      expect(opened[0]).toMatchObject({ level: 'warn', failures: 3 });
    });

    it('while open, asks the upstream nothing and answers every request at once: stale, hit, or 503 with Retry-After', async () => {
      p('brk').reset();
      // The upstream now takes connections and never answers: only the timeouts would end a request sent to it.
      p('brk').fault = () => ({ kind: 'delay', ms: 60_000 });
      const answers = await Promise.all([
        ...Array.from({ length: 5 }, () => ask('brk.test/team/brk/manifests/v1')),
        ask('brk.test/team/brk/manifests/v1', 'HEAD'),
        ask(`brk.test/team/brk/blobs/${image.blobs[1]}`),
        ask(`brk.test/team/brk/blobs/${uncached}`),
        ask('brk.test/team/brk/manifests/never-pushed'),
        ask(`brk.test/team/brk/manifests/${sha256(randomBytes(8))}`),
      ]);
      for (const a of answers) expect(a.ms, JSON.stringify(a)).toBeLessThan(noWait);
      for (const a of answers.slice(0, 6)) {
        expect(a).toMatchObject({ status: 200, digest: image.digest });
        expect(a.warning).toMatch(staleFrom('brk', 'is unavailable: it failed \\d+ times in a row; [^"]+'));
      }
      expect(answers[6]).toMatchObject({ status: 200, digest: image.blobs[1], warning: null });
      for (const a of answers.slice(7)) {
        expect(a).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
        expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect(p('brk').requests).toEqual([]);
      expect(await metric('berth_mirror_upstream_spared_total', ['upstream="brk"', 'reason="circuit_open"'])).toBeGreaterThanOrEqual(9);
    });

    it('after the cool-down probes the upstream with one request of its own, and no client waits for it', async () => {
      await until(openedAt + 3_200);
      p('brk').reset();
      // The upstream hangs 8 s, then fails.
      p('brk').fault = () => ({ kind: 'delay', ms: 8_000, then: { kind: 'reset' } });
      const first = await ask('brk.test/team/brk/manifests/v1');
      expect(first.ms).toBeLessThan(noWait);
      while (p('brk').requests.length === 0) await sleep(20);
      const probeSent = Date.now();
      expect(p('brk').requests[0]).toMatchObject({ method: 'GET', path: '/v2/' });
      expect(await metric('berth_mirror_upstream_circuit_state', ['upstream="brk"'])).toBe(1);
      const others = await Promise.all([
        ...Array.from({ length: 10 }, () => ask('brk.test/team/brk/manifests/v1')),
        ask(`brk.test/team/brk/blobs/${uncached}`),
      ]);
      // All answered while the probe still waited for the upstream.
      expect(Date.now()).toBeLessThan(probeSent + 8_000);
      for (const a of [first, ...others.slice(0, 10)]) {
        expect(a).toMatchObject({ status: 200, digest: image.digest });
        expect(a.warning).toMatch(staleFrom('brk', 'is unavailable: it failed \\d+ times in a row; [^"]+'));
        expect(a.ms).toBeLessThan(noWait);
      }
      expect(others[10]).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      expect(p('brk').requests).toHaveLength(1);
      // The probe fails: the circuit opens again, which is no news for the log.
      while ((await metric('berth_mirror_upstream_circuit_state', ['upstream="brk"'])) !== 2) await sleep(100);
      openedAt = Date.now();
      expect(await metric('berth_mirror_upstream_circuit_transitions_total', ['upstream="brk"', 'to="open"'])).toBe(2);
      expect(logLines('upstream circuit opened').filter((l) => l.upstream === 'brk')).toHaveLength(1);
    });

    it('closes when a probe succeeds, with one log line, and asks the upstream again', async () => {
      await until(openedAt + 3_200);
      p('brk').reset();
      // The request that finds the cool-down over starts the probe and is answered at once.
      const trigger = await ask('brk.test/team/brk/manifests/v1');
      expect(trigger).toMatchObject({ status: 200, digest: image.digest });
      while ((await metric('berth_mirror_upstream_circuit_state', ['upstream="brk"'])) !== 0) await sleep(50);
      const res = await ask('brk.test/team/brk/manifests/v1');
      expect(res).toMatchObject({ status: 200, digest: image.digest, warning: null });
      expect(await metric('berth_mirror_upstream_circuit_transitions_total', ['upstream="brk"', 'to="closed"'])).toBe(1);
      expect(await metric('berth_mirror_upstream_circuit_transitions_total', ['upstream="brk"', 'to="half-open"'])).toBe(2);
      const closed = logLines('upstream circuit closed').filter((l) => l.upstream === 'brk');
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({ level: 'info' });
      expect(await ask(`brk.test/team/brk/blobs/${uncached}`)).toMatchObject({ status: 200, digest: uncached });
      expect(p('brk').count('GET', /^\/v2\/$/)).toBe(1);
      expect(p('brk').count('HEAD', '/manifests/v1')).toBe(1);
    });
  });

  describe('rate limits', () => {
    let image: { digest: string; blobs: string[] };
    let uncached: string;

    it("holds off after Docker Hub's ratelimit-remaining: 0 on a HEAD, serving stale, until the window passes", async () => {
      image = await pushTagged('team/rl', 'v1');
      uncached = await pushBlob(upstream.url, 'team/rl', randomBytes(16 << 10));
      expect((await pullAll(mirror.url, 'rl.test/team/rl', 'v1')).digest).toBe(image.digest);
      p('rl').reset();
      p('rl').fault = (r) => (r.method === 'HEAD' ? { kind: 'headers', headers: { 'ratelimit-limit': '100;w=6', 'ratelimit-remaining': '0;w=6' } } : undefined);
      const start = Date.now();
      // This answer is good (the HEAD confirms the tag); it is the last the quota allows.
      const last = await ask('rl.test/team/rl/manifests/v1');
      const answeredAt = Date.now();
      expect(last).toMatchObject({ status: 200, digest: image.digest, warning: null });
      expect(p('rl').requests).toHaveLength(1);
      p('rl').reset();
      while (Date.now() < start + 4_000) {
        const stale = await ask('rl.test/team/rl/manifests/v1');
        expect(stale).toMatchObject({ status: 200, digest: image.digest });
        expect(stale.warning).toMatch(staleFrom('rl', 'is rate limiting: not asked again for \\d+s'));
        const blob = await ask(`rl.test/team/rl/blobs/${uncached}`);
        expect(blob).toMatchObject({ status: 429, code: 'TOOMANYREQUESTS' });
        expect(Number(blob.retryAfter)).toBeGreaterThanOrEqual(1);
        await sleep(200);
      }
      expect(p('rl').requests).toEqual([]);
      expect(logLines('upstream rate limit reached').filter((l) => l.upstream === 'rl')).toHaveLength(1);
      expect(await metric('berth_mirror_upstream_rate_limited_until_seconds', ['upstream="rl"'])).toBeGreaterThan(start / 1000);
      await until(answeredAt + 6_100);
      const again = await ask('rl.test/team/rl/manifests/v1');
      expect(again).toMatchObject({ status: 200, digest: image.digest, warning: null });
      expect(p('rl').count('HEAD', '/manifests/v1')).toBe(1);
    });

    it('holds off after a 429 with Retry-After, serving stale, until it has passed', async () => {
      p('rl').reset();
      p('rl').fault = () => ({ kind: 'status', status: 429, headers: { 'Retry-After': '3' } });
      const start = Date.now();
      const first = await ask('rl.test/team/rl/manifests/v1');
      const answeredAt = Date.now();
      expect(first).toMatchObject({ status: 200, digest: image.digest });
      expect(first.warning).toBe('299 - "Response is stale: upstream rl is rate limiting"');
      expect(p('rl').requests).toHaveLength(1);
      while (Date.now() < start + 2_000) {
        const stale = await ask('rl.test/team/rl/manifests/v1');
        expect(stale).toMatchObject({ status: 200, digest: image.digest });
        expect(stale.warning).toMatch(staleFrom('rl', 'is rate limiting: not asked again for \\d+s'));
        await sleep(200);
      }
      expect(p('rl').requests).toHaveLength(1);
      await until(answeredAt + 3_100);
      p('rl').fault = undefined;
      const again = await ask('rl.test/team/rl/manifests/v1');
      expect(again).toMatchObject({ status: 200, digest: image.digest, warning: null });
      expect(p('rl').requests).toHaveLength(2);
      expect(await ask(`rl.test/team/rl/blobs/${uncached}`)).toMatchObject({ status: 200, digest: uncached });
    });
  });

  describe('failover URLs', () => {
    const bearers = (proxy: FaultProxy): Set<string> => new Set(proxy.requests.map((r) => r.authorization).filter((a): a is string => a?.startsWith('Bearer ') ?? false));

    it('uses the first URL while it is up', async () => {
      const image = await pushTagged('team/fo-a', 'v1');
      p('first').reset();
      p('second').reset();
      expect((await pullAll(mirror.url, 'fo.test/team/fo-a', 'v1')).digest).toBe(image.digest);
      expect(p('first').count('GET', '/manifests/v1')).toBe(1);
      expect(p('second').requests).toEqual([]);
    });

    it('with the first URL down, the second serves, with its own token', async () => {
      const image = await pushTagged('team/fo-b', 'v1', [randomBytes(256 << 10)]);
      p('second').reset();
      p('first').fault = () => ({ kind: 'reset' });
      const pulled = await pullAll(mirror.url, 'fo.test/team/fo-b', 'v1');
      expect(pulled.digest).toBe(image.digest);
      expect(p('second').count('GET', '/manifests/v1')).toBe(1);
      expect(p('second').tokenRequests.length).toBeGreaterThanOrEqual(1);
      // A token is only ever sent to the origin that issued it.
      const fromFirst = bearers(p('first'));
      for (const token of bearers(p('second'))) expect(fromFirst.has(token)).toBe(false);
      expect(bearers(p('second')).size).toBeGreaterThan(0);
    });

    it('stops asking the first URL once its circuit is open', async () => {
      const image = await pushTagged('team/fo-c', 'v1');
      const before = p('first').requests.length;
      expect((await pullAll(mirror.url, 'fo.test/team/fo-c', 'v1')).digest).toBe(image.digest);
      expect(p('first').requests.length).toBe(before);
      expect(p('second').count('GET', '/team/fo-c/manifests/v1')).toBe(1);
      expect(await metric('berth_mirror_upstream_circuit_state', ['upstream="fo"', 'url="1"'])).toBe(2);
      expect(await metric('berth_mirror_upstream_circuit_state', ['upstream="fo"', 'url="2"'])).toBe(0);
    });
  });

  describe('per-upstream caps', () => {
    /** Pushes `n` images of one random layer of `size` bytes as team/<name>-<i>:v1. */
    async function images(name: string, n: number, size: number): Promise<string[]> {
      return Promise.all(Array.from({ length: n }, async (_, i) => (await pushTagged(`team/${name}-${i}`, 'v1', [randomBytes(size)])).digest));
    }

    it('maxConnections: 2 holds under 16 concurrent cold pulls, and all of them complete', async () => {
      const digests = await images('cap', 16, 256 << 10);
      p('cap').reset();
      // Slow bodies, so that without the cap the pulls would overlap far more than 2 at a time.
      p('cap').fault = (r) => (r.method === 'GET' && r.path.includes('/blobs/') ? { kind: 'slow', bytes: 16 << 10, ms: 10 } : undefined);
      const pulled = await Promise.all(digests.map((_, i) => pullAll(mirror.url, `cap.test/team/cap-${i}`, 'v1')));
      expect(pulled.map((r) => r.digest)).toEqual(digests);
      // Each request in flight at the proxy is a connection of berth's in use.
      expect(p('cap').peakInFlight).toBe(2);
    });

    it('maxBytesPerSecond: 1MiB holds under 16 concurrent cold pulls of 512 KiB layers', async () => {
      const size = 512 << 10;
      const digests = await images('bw', 16, size);
      // The manifests first, so that what is timed is the layers' bytes and not the requests around them.
      const layers = await Promise.all(
        digests.map(async (digest, i) => {
          const manifest = JSON.parse(new TextDecoder().decode(await fetchVerified(mirror.url, `bw.test/team/bw-${i}`, 'manifests', digest))) as { layers: Array<{ digest: string }> };
          return manifest.layers[0]!.digest;
        }),
      );
      const receivedBefore = await metric('berth_mirror_upstream_received_bytes_total', ['upstream="bw"']);
      const started = performance.now();
      const got = await Promise.all(layers.map((layer, i) => ask(`bw.test/team/bw-${i}/blobs/${layer}`)));
      const seconds = (performance.now() - started) / 1000;
      expect(got.map((a) => a.digest)).toEqual(layers);
      // 8 MiB at 1 MiB/s (the bucket lets a quarter second's worth through at once): about 7.8 s.
      // A busy machine only makes it slower; faster than 1.25 MiB/s would mean no cap (uncapped,
      // this machine moves several MiB/s even when busy).
      const rate = (16 * size) / seconds;
      expect(rate, `${(rate / (1 << 20)).toFixed(2)} MiB/s`).toBeLessThanOrEqual(1.25 * (1 << 20));
      expect(p('bw').requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'))).toHaveLength(16);
      // The metrics show the bytes and the cap at work: 16 bodies each held back for seconds.
      expect((await metric('berth_mirror_upstream_received_bytes_total', ['upstream="bw"'])) - receivedBefore).toBe(16 * size);
      expect(await metric('berth_mirror_upstream_throttled_seconds_total', ['upstream="bw"'])).toBeGreaterThan(16);
    });
  });
});
