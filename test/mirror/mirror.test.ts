import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { fetchDigest, pushBlob, sha256, writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import type { TestServer } from '../support/server.ts';
import { startServerOn } from '../support/storage.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const describeMirror = hasSkopeo || process.env.CI ? describe : describe.skip;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const manifestAccept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

interface Image {
  dir: string;
  index: string;
  blobs: string[];
}

describeMirror('pull-through mirror', () => {
  let upstream: Distribution;
  let proxy: FaultProxy;
  let tokenProxy: FaultProxy;
  let mirror: TestServer;
  let host: string;
  const images = new Map<string, Image>();
  const cleanup: string[] = [];

  /** A fresh random image pushed to the upstream as `repo:v1`, so every test starts cold. */
  async function pushImage(repo: string): Promise<Image> {
    const layout = await makeImageLayout('v1', [200_000, 1_500_000]);
    cleanup.push(layout.dir);
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${new URL(upstream.url).host}/${repo}:v1`);
    const blobs = (await readdir(join(layout.dir, 'blobs', 'sha256'))).map((h) => `sha256:${h}`);
    const image = { ...layout, blobs };
    images.set(repo, image);
    return image;
  }

  async function pullAndCompare(ref: string, image: Image): Promise<void> {
    const back = await mkdtemp(join(tmpdir(), 'berth-mirror-back-'));
    cleanup.push(back);
    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/${ref}`, `oci:${back}:v1`);
    const got = (await readdir(join(back, 'blobs', 'sha256'))).sort();
    expect(got).toEqual(image.blobs.map((d) => d.slice(7)).sort());
    for (const hex of got) {
      const [a, b] = await Promise.all([readFile(join(image.dir, 'blobs', 'sha256', hex)), readFile(join(back, 'blobs', 'sha256', hex))]);
      expect(b.equals(a), `blob ${hex} differs`).toBe(true);
    }
  }

  beforeAll(async () => {
    upstream = await startDistribution();
    proxy = await startFaultProxy(upstream.url);
    tokenProxy = await startFaultProxy(upstream.url, { token: { username: 'mirror', password: 'upstream-secret' } });
    const config = await writeConfig(
      [
        'mirror:',
        '  default: hub',
        '  local: [local]',
        '  timeouts: { connect: 1, headers: 1, body: 3 }',
        '  upstreams:',
        `    - { name: hub, url: "${proxy.url}", tagTtl: 1h }`,
        `    - { name: short, url: "${proxy.url}", prefix: short.test, tagTtl: 1 }`,
        `    - { name: ghcr, url: "${proxy.url}", prefix: ghcr.io, tagTtl: 1h }`,
        `    - { name: tok, url: "${tokenProxy.url}", prefix: tok.test, username: mirror, password: upstream-secret }`,
        '',
      ].join('\n'),
    );
    cleanup.push(join(config, '..'));
    // TEST_STORAGE=s3 runs the same suite with the mirror's storage on S3.
    mirror = await startServerOn(undefined, { args: ['--config', config] });
    host = new URL(mirror.url).host;
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(mirror?.logs());
    await mirror?.stop();
    await proxy?.close();
    await tokenProxy?.close();
    await upstream?.stop();
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  it('cold pull with skopeo equals the upstream image byte for byte', async () => {
    const image = await pushImage('team/app');
    await pullAndCompare('team/app:v1', image);
    const [viaMirror, direct] = await Promise.all([
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app:v1`),
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${new URL(upstream.url).host}/team/app:v1`),
    ]);
    expect(viaMirror.stdout).toBe(direct.stdout);
  });

  it('warm pull within the tag TTL makes no upstream request at all', async () => {
    const image = images.get('team/app')!;
    proxy.reset();
    await pullAndCompare('team/app:v1', image);
    expect(proxy.requests).toEqual([]);
  });

  it('a tag past its TTL is revalidated with one HEAD and, unchanged, not fetched again', async () => {
    const image = await pushImage('team/short');
    await pullAndCompare('short.test/team/short:v1', image);
    await sleep(1_100);
    proxy.reset();
    const res = await fetch(`${mirror.url}/v2/short.test/team/short/manifests/v1`, { headers: { Accept: manifestAccept } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(image.index);
    await res.arrayBuffer();
    expect(proxy.count('HEAD', '/manifests/v1')).toBe(1);
    expect(proxy.count('GET')).toBe(0);
  });

  it('serves a cached tag with a Warning when the upstream is down, rate limiting, resetting or too slow', async () => {
    const image = images.get('team/short')!;
    for (const fault of [{ kind: 'status', status: 503 }, { kind: 'status', status: 429 }, { kind: 'reset' }, { kind: 'delay', ms: 4_000 }] as const) {
      await sleep(1_100);
      proxy.fault = () => fault;
      const res = await fetch(`${mirror.url}/v2/short.test/team/short/manifests/v1`, { headers: { Accept: manifestAccept } });
      expect(res.status, JSON.stringify(fault)).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(image.index);
      // The spec's form: code 299, agent "-", the text quoted; what failed named by upstream, never by host.
      const warning = res.headers.get('warning');
      if (fault.kind === 'status') expect(warning).toBe(`299 - "Response is stale: upstream short ${fault.status === 429 ? 'is rate limiting' : 'answered 503'}"`);
      else expect(warning, JSON.stringify(fault)).toMatch(/^299 - "Response is stale: upstream short is unavailable: [a-z ]+"$/);
      await res.arrayBuffer();
    }
    // A whole pull still works from the cache with the upstream failing.
    proxy.fault = () => ({ kind: 'status', status: 503 });
    await pullAndCompare('short.test/team/short:v1', image);
    proxy.reset();
  });

  it('8 concurrent cold pulls make exactly one upstream GET per blob and manifest', async () => {
    const image = await pushImage('team/concurrent');
    proxy.reset();
    // Slow blob bodies so the pulls overlap while the fills run.
    proxy.fault = (r) => (r.method === 'GET' && r.path.includes('/blobs/') ? { kind: 'slow', bytes: 64 << 10, ms: 5 } : undefined);
    await Promise.all(Array.from({ length: 8 }, () => pullAndCompare('team/concurrent:v1', image)));
    for (const digest of image.blobs) {
      const gets = proxy.count('GET', `/blobs/${digest}`) + proxy.count('GET', `/manifests/${digest}`);
      // Bytes already stored for another repository (the image configs are the same in every test
      // image) are only confirmed with a HEAD before they are linked; the index came by tag;
      // everything else exactly once, by digest.
      const adopted = proxy.count('HEAD', `/blobs/${digest}`) > 0;
      expect(gets, digest).toBe(digest === image.index || adopted ? 0 : 1);
    }
    expect(proxy.count('GET', '/manifests/v1')).toBe(1);
    const blobGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
    expect(new Set(blobGets.map((r) => r.path)).size).toBe(blobGets.length);
    proxy.reset();
  });

  it('8 concurrent GETs of one cold blob stream the verified bytes from a single upstream GET', async () => {
    const digest = await pushBlob(upstream.url, 'team/raw');
    proxy.reset();
    proxy.fault = (r) => (r.path.includes(digest) ? { kind: 'slow', bytes: 128 << 10, ms: 10 } : undefined);
    const results = await Promise.all(Array.from({ length: 8 }, () => fetchDigest(`${mirror.url}/v2/team/raw/blobs/${digest}`)));
    for (const r of results) expect(r).toEqual({ status: 200, digest });
    expect(proxy.count('GET', `/blobs/${digest}`)).toBe(1);
    proxy.reset();
  });

  it('a client that disconnects does not cancel the fill for the others', async () => {
    const digest = await pushBlob(upstream.url, 'team/leaver');
    proxy.reset();
    proxy.fault = (r) => (r.path.includes(digest) ? { kind: 'slow', bytes: 128 << 10, ms: 10 } : undefined);
    const abort = new AbortController();
    const leaver = fetch(`${mirror.url}/v2/team/leaver/blobs/${digest}`, { signal: abort.signal }).then(async (res) => {
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
    });
    const stayer = fetchDigest(`${mirror.url}/v2/team/leaver/blobs/${digest}`);
    await leaver.catch(() => undefined);
    expect(await stayer).toEqual({ status: 200, digest });
    expect(proxy.count('GET', `/blobs/${digest}`)).toBe(1);
    proxy.reset();
  });

  for (const fault of [{ kind: 'truncate', bytes: 300_000 }, { kind: 'reset' }, { kind: 'status', status: 500 }] as const) {
    it(`an upstream ${fault.kind === 'status' ? 'status 500' : fault.kind} is not cached and a retry succeeds`, async () => {
      const digest = await pushBlob(upstream.url, `team/${fault.kind}`);
      proxy.reset();
      proxy.fault = (r) => (r.path.includes(digest) ? fault : undefined);
      const url = `${mirror.url}/v2/team/${fault.kind}/blobs/${digest}`;
      const failed = await Promise.all([fetchDigest(url), fetchDigest(url)]);
      for (const f of failed) expect(f.digest === digest && f.status === 200, JSON.stringify(f)).toBe(false);
      proxy.fault = undefined;
      // How many GETs the failures cost depends on the runtime's HTTP client (Bun retries resets).
      const failedGets = proxy.count('GET', `/blobs/${digest}`);
      expect(failedGets).toBeGreaterThanOrEqual(1);
      expect(await fetchDigest(url)).toEqual({ status: 200, digest });
      // Nothing of the failed fetch was kept: the retry fetched again; after it, storage serves.
      expect(await fetchDigest(url)).toEqual({ status: 200, digest });
      expect(proxy.count('GET', `/blobs/${digest}`) - failedGets).toBe(1);
      proxy.reset();
    });
  }

  it('routes by repository prefix and by containerd ?ns=, echoing OCI-Namespace', async () => {
    const image = await pushImage('team/routed');
    proxy.reset();
    const byNs = await fetch(`${mirror.url}/v2/team/routed/manifests/v1?ns=ghcr.io`, { headers: { Accept: manifestAccept } });
    expect(byNs.status).toBe(200);
    expect(byNs.headers.get('oci-namespace')).toBe('ghcr.io');
    expect(byNs.headers.get('docker-content-digest')).toBe(image.index);
    await byNs.arrayBuffer();
    expect(proxy.count('GET', '/v2/team/routed/manifests/v1')).toBe(1);
    // The same content under its prefix: stored once, no new upstream GET.
    const byPrefix = await fetch(`${mirror.url}/v2/ghcr.io/team/routed/manifests/v1`, { headers: { Accept: manifestAccept } });
    expect(byPrefix.status).toBe(200);
    expect(byPrefix.headers.get('docker-content-digest')).toBe(image.index);
    await byPrefix.arrayBuffer();
    expect(proxy.count('GET', '/manifests/')).toBe(1);
    await pullAndCompare('ghcr.io/team/routed:v1', image);
  });

  it('refuses pushes and deletes in mirrored namespaces and accepts them in local ones', async () => {
    const refused = [
      await fetch(`${mirror.url}/v2/team/app/blobs/uploads/`, { method: 'POST' }),
      await fetch(`${mirror.url}/v2/ghcr.io/team/app/blobs/uploads/`, { method: 'POST' }),
      await fetch(`${mirror.url}/v2/team/app/manifests/v2`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
        body: '{}',
      }),
      await fetch(`${mirror.url}/v2/team/app/manifests/v1`, { method: 'DELETE' }),
      await fetch(`${mirror.url}/v2/team/app/blobs/uploads/?mount=${images.get('team/app')!.index}&from=local/x`, { method: 'POST' }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(405);
      expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNSUPPORTED');
    }
    const digest = await pushBlob(mirror.url, 'local/pushed', new TextEncoder().encode('local bytes'));
    expect(await fetchDigest(`${mirror.url}/v2/local/pushed/blobs/${digest}`)).toEqual({ status: 200, digest });
  });

  it('does the token dance with its own credentials and never forwards the client’s', async () => {
    const image = images.get('team/app')!;
    const clientAuth = `Basic ${Buffer.from('client:client-secret').toString('base64')}`;
    const res = await fetch(`${mirror.url}/v2/tok.test/team/app/manifests/v1`, { headers: { Accept: manifestAccept, Authorization: clientAuth } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(image.index);
    await res.arrayBuffer();
    const again = await fetch(`${mirror.url}/v2/tok.test/team/app/manifests/${image.index}`, { headers: { Accept: manifestAccept } });
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    expect(tokenProxy.tokenRequests).toHaveLength(1);
    expect(tokenProxy.tokenRequests[0]?.authorization).toBe(`Basic ${Buffer.from('mirror:upstream-secret').toString('base64')}`);
    expect(tokenProxy.tokenRequests[0]?.query).toContain('scope=repository%3Ateam%2Fapp%3Apull');
    for (const r of tokenProxy.requests) expect(r.authorization).not.toBe(clientAuth);
    expect(tokenProxy.requests.filter((r) => r.authorization?.startsWith('Bearer ')).length).toBeGreaterThan(0);
  });

  it('gets a new token when the upstream stops accepting the cached one', async () => {
    // Its own repository, so no earlier case's download shares (and races for) its token.
    const image = await pushImage('team/tokens');
    const manifest = await fetch(`${mirror.url}/v2/tok.test/team/tokens/manifests/v1`, { headers: { Accept: manifestAccept } });
    expect(manifest.status).toBe(200);
    await manifest.arrayBuffer();
    tokenProxy.reset();
    tokenProxy.revokeTokens();
    // A layer: the largest blob (blobs[] also holds the index, manifests and configs, in digest order).
    const sizes = await Promise.all(image.blobs.map(async (d) => (await stat(join(image.dir, 'blobs', 'sha256', d.slice(7)))).size));
    const layer = image.blobs[sizes.indexOf(Math.max(...sizes))]!;
    const blob = await fetchDigest(`${mirror.url}/v2/tok.test/team/tokens/blobs/${layer}`);
    expect(blob).toEqual({ status: 200, digest: layer });
    // The cached token was refused (401), a new one fetched, the request retried with it.
    expect(tokenProxy.tokenRequests.length).toBeGreaterThanOrEqual(1);
    expect(tokenProxy.requests.length).toBeGreaterThanOrEqual(2);
    for (const r of tokenProxy.requests) expect(r.authorization).toMatch(/^Bearer /);
  });

  it('follows a blob redirect to another host without sending it Authorization', async () => {
    const digest = await pushBlob(upstream.url, 'team/redirected');
    tokenProxy.reset();
    proxy.reset();
    tokenProxy.fault = (r) => (r.path.includes(`/blobs/${digest}`) ? { kind: 'redirect', to: proxy.url } : undefined);
    expect(await fetchDigest(`${mirror.url}/v2/tok.test/team/redirected/blobs/${digest}`)).toEqual({ status: 200, digest });
    const atCdn = proxy.requests.filter((r) => r.path.includes(digest));
    expect(atCdn).toHaveLength(1);
    expect(atCdn[0]?.authorization).toBeUndefined();
    expect(tokenProxy.requests.some((r) => r.path.includes(digest) && r.authorization?.startsWith('Bearer '))).toBe(true);
    tokenProxy.reset();
  });

  it('answers an unknown upstream tag with MANIFEST_UNKNOWN and a dead upstream with 503', async () => {
    const missing = await fetch(`${mirror.url}/v2/team/app/manifests/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('MANIFEST_UNKNOWN');
    proxy.fault = () => ({ kind: 'reset' });
    const down = await fetch(`${mirror.url}/v2/team/never/manifests/v1`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNAVAILABLE');
    proxy.reset();
    void sha256;
  });
  it('moves the mirror metric families: hits, misses, upstream requests and errors', async () => {
    const scrape = async (): Promise<string> => (await fetch(`${mirror.url}/metrics`)).text();
    const sample = (text: string, name: string, labels: string[]): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const image = await pushImage('metrics/app');
    const before = await scrape();
    const manifest = `${mirror.url}/v2/metrics/app/manifests/${image.index}`;
    expect((await fetchDigest(manifest, { Accept: manifestAccept })).digest).toBe(image.index);
    expect((await fetchDigest(manifest, { Accept: manifestAccept })).digest).toBe(image.index);
    const after = await scrape();
    const route = 'route="/v2/<name>/manifests/<reference>"';
    expect(sample(after, 'berth_mirror_requests_total', [route, 'outcome="miss"'])).toBe(sample(before, 'berth_mirror_requests_total', [route, 'outcome="miss"']) + 1);
    expect(sample(after, 'berth_mirror_requests_total', [route, 'outcome="hit"'])).toBe(sample(before, 'berth_mirror_requests_total', [route, 'outcome="hit"']) + 1);
    expect(sample(after, 'berth_mirror_upstream_requests_total', ['upstream="hub"', 'method="GET"', 'status="200"'])).toBeGreaterThan(
      sample(before, 'berth_mirror_upstream_requests_total', ['upstream="hub"', 'method="GET"', 'status="200"']),
    );
    proxy.fault = () => ({ kind: 'status', status: 500 });
    try {
      await fetch(`${mirror.url}/v2/metrics/app/manifests/${sha256(Buffer.from('never pushed'))}`, { headers: { Accept: manifestAccept } });
    } finally {
      proxy.fault = undefined;
    }
    expect(sample(await scrape(), 'berth_mirror_upstream_errors_total', ['upstream="hub"'])).toBeGreaterThan(sample(before, 'berth_mirror_upstream_errors_total', ['upstream="hub"']));
  });
});
