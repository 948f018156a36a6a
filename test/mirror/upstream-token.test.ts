/**
 * The mirror's upstream tokens against a token service with scopes and expiry: another berth in
 * token mode (access tokens scoped per repository, `exp` enforced with no leeway), behind a proxy
 * that records every request the mirror sends and can slow a download down. A token for one
 * repository is never sent for another; an expired token is replaced, not sent; a download that
 * outlives its token completes; a token the upstream revoked (its signing key changed) is replaced
 * on the upstream's 401.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, claimsOf, clientConfig, clientUsers, getToken, pushImage as pushAuthImage } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy, type SeenRequest } from '../support/fault-proxy.ts';
import { fetchDigest, pushBlob, sha256, writeConfig } from '../support/mirror.ts';
import { freePort } from '../support/net.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { makeKey } from '../support/tokens.ts';

const accept = 'application/vnd.oci.image.manifest.v1+json';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/**
 * The upstream berth, always on `port` with its data in `dir/data`: token mode with the given
 * access-token lifetime, no leeway, signing with `dir/key.pem` (which a test may replace).
 */
async function startUpstream(dir: string, lifetime: string, port: number): Promise<TestServer> {
  const config = join(dir, 'berth.yaml');
  const base = clientConfig(['a/**', 'b/**']) as { auth: Record<string, unknown> };
  await writeFile(config, stringify({ auth: { ...base.auth, token: { lifetime, leeway: 0, key: join(dir, 'key.pem') } } }));
  return startServer({ dataDir: join(dir, 'data'), args: ['--config', config, '--listen', `127.0.0.1:${port}`] });
}

/** Requests the mirror sent with a Bearer token: the token's claims, and the repository the path names. */
function bearerRequests(requests: SeenRequest[]): Array<SeenRequest & { repository: string; exp: number; access: Access[]; token: string }> {
  return requests.flatMap((r) => {
    const token = /^Bearer (.+)$/.exec(r.authorization ?? '')?.[1];
    const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(r.path)?.[1];
    if (!token || !repository) return [];
    const claims = claimsOf(token) as { exp: number; access: Access[] };
    return [{ ...r, repository, exp: claims.exp * 1000, access: claims.access, token }];
  });
}

describe('mirror upstream tokens: scopes, expiry, revocation', () => {
  let dir: string;
  let port: number;
  let upstream: TestServer;
  let proxy: FaultProxy;
  let mirror: TestServer;
  const images: Record<string, { manifest: string; layer: string }> = {};
  let big = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-upstream-token-'));
    await writeFile(join(dir, 'key.pem'), (await makeKey()).pem, { mode: 0o600 });
    port = await freePort();
    // Access tokens live 2 s: long enough for one request, short enough to expire during the test.
    upstream = await startUpstream(dir, '2s', port);
    const push = async (repo: string): Promise<string> => {
      const { body } = await getToken(upstream.url, { user: 'pusher', password: clientUsers.pusher, scopes: [`repository:${repo}:pull,push`] });
      images[repo] = await pushAuthImage(upstream.url, repo, 'v1', bearer(body.token));
      return body.token;
    };
    await push('a/app');
    const token = await push('b/app');
    // A layer big enough to stream slowly for longer than a token lives.
    const put = await fetch(`${upstream.url}/v2/b/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: bearer(token) } });
    const bytes = randomBytes(4 << 20);
    big = sha256(bytes);
    const location = new URL(put.headers.get('location') ?? '', upstream.url);
    location.searchParams.set('digest', big);
    expect((await fetch(location, { method: 'PUT', body: bytes, headers: { Authorization: bearer(token) } })).status).toBe(201);

    proxy = await startFaultProxy(upstream.url);
    const config = await writeConfig(
      [
        'mirror:',
        '  upstreams:',
        `    - { name: up, url: "${proxy.url}", prefix: up, username: reader, password: ${clientUsers.reader}, tagTtl: 0 }`,
        '',
      ].join('\n'),
    );
    mirror = await startServer({ args: ['--config', config] });
  });
  afterAll(async () => {
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends each repository only a token scoped to it, never one valid for another', async () => {
    for (const repo of ['a/app', 'b/app']) {
      expect((await fetchDigest(`${mirror.url}/v2/up/${repo}/manifests/v1`, { Accept: accept })).digest).toBe(images[repo]!.manifest);
      expect((await fetchDigest(`${mirror.url}/v2/up/${repo}/blobs/${images[repo]!.layer}`)).digest).toBe(images[repo]!.layer);
    }
    const sent = bearerRequests(proxy.requests);
    expect(new Set(sent.map((r) => r.repository))).toEqual(new Set(['a/app', 'b/app']));
    for (const r of sent) {
      expect(r.access.map((a) => a.name), `${r.method} ${r.path}`).toEqual([r.repository]);
      expect(r.access[0]?.actions).toContain('pull');
    }
    // No token serves two repositories.
    const repositoriesOf = new Map<string, Set<string>>();
    for (const r of sent) repositoriesOf.set(r.token, (repositoriesOf.get(r.token) ?? new Set()).add(r.repository));
    expect([...repositoriesOf.values()].every((s) => s.size === 1)).toBe(true);
  });

  it('renews an expired token instead of sending it', async () => {
    const before = bearerRequests(proxy.requests).filter((r) => r.repository === 'a/app');
    await sleep(2_500); // every token issued so far has expired
    // tagTtl 0: each pull of the tag asks the upstream again.
    expect((await fetchDigest(`${mirror.url}/v2/up/a/app/manifests/v1`, { Accept: accept })).digest).toBe(images['a/app']!.manifest);
    const after = bearerRequests(proxy.requests).filter((r) => r.repository === 'a/app').slice(before.length);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect(r.exp, `${r.method} ${r.path} sent a token that had expired`).toBeGreaterThan(r.at);
    const old = new Set(before.map((r) => r.token));
    expect(after.filter((r) => old.has(r.token))).toEqual([]);
    // The upstream never had to refuse one: the mirror renewed before sending.
    expect(after.filter((r) => r.status === 401)).toEqual([]);
  });

  it('completes a download that outlives the token it started with', async () => {
    // 4 MiB in 64 KiB steps, 60 ms apart: about 4 s, twice the token's life.
    proxy.fault = (r) => (r.path.endsWith(`/blobs/${big}`) ? { kind: 'slow', bytes: 64 << 10, ms: 60 } : undefined);
    const started = Date.now();
    const got = await fetchDigest(`${mirror.url}/v2/up/b/app/blobs/${big}`);
    const finished = Date.now();
    proxy.fault = undefined;
    expect(got).toEqual({ status: 200, digest: big });
    const download = bearerRequests(proxy.requests).find((r) => r.path.endsWith(`/blobs/${big}`) && r.method === 'GET' && r.at >= started);
    expect(download?.status).toBe(200);
    // Its token had expired before the last byte arrived.
    expect(download!.exp).toBeLessThan(finished);
  });

  it('replaces a token the upstream revoked between two requests (its signing key changed)', async () => {
    // Tokens that live 5 minutes now, so the mirror still holds one when the key changes.
    await upstream.stop();
    upstream = await startUpstream(dir, '5m', port);
    expect((await fetchDigest(`${mirror.url}/v2/up/a/app/manifests/v1`, { Accept: accept })).digest).toBe(images['a/app']!.manifest);
    const held = bearerRequests(proxy.requests).at(-1)!;
    expect(held.exp - held.at).toBeGreaterThan(60_000);
    // Revoked: the upstream restarts signing with a new key; every token it issued is now invalid.
    await upstream.stop();
    await writeFile(join(dir, 'key.pem'), (await makeKey()).pem, { mode: 0o600 });
    upstream = await startUpstream(dir, '5m', port);
    const mark = proxy.requests.length;

    const res = await fetch(`${mirror.url}/v2/up/a/app/manifests/v1`, { headers: { Accept: accept } });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toBeNull(); // answered by the upstream, not served stale
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(images['a/app']!.manifest);
    const sent = bearerRequests(proxy.requests.slice(mark));
    // The held token went out first (the mirror cannot know), was refused, and a new one followed.
    expect(sent[0]).toMatchObject({ token: held.token, status: 401 });
    const answered = sent.filter((r) => r.status === 200);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.filter((r) => r.token === held.token)).toEqual([]);
  });
});
