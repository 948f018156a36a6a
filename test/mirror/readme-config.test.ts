/**
 * The README's multi-upstream mirror configuration (Docker Hub + ghcr.io + quay.io), tried as
 * written: the YAML block is read out of README.md and only the upstream URLs are swapped for
 * local stand-ins (CNCF distribution, one fault proxy per upstream to tell them apart), plus what
 * the swap would otherwise change: berth derives a prefix from the URL's host name and gives
 * https://registry-1.docker.io `docker.io` and `library/` by itself, so the stand-ins get those
 * spelled out. The credentials stay: an upstream that never challenges never sees them.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { fetchVerified, pullAll, pushHttpImage, writeConfig } from '../support/mirror.ts';
import type { TestServer } from '../support/server.ts';
import { startServerOn } from '../support/storage.ts';

async function readmeConfig(): Promise<string> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /```yaml\n(# berth\.yml: Docker Hub for unqualified names[^]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md no longer has the multi-upstream mirror block this test tries');
  return block;
}

describe("the README's multi-upstream mirror configuration", () => {
  let upstream: Distribution;
  const proxies: Record<'hub' | 'ghcr' | 'quay', FaultProxy | undefined> = { hub: undefined, ghcr: undefined, quay: undefined };
  let mirror: TestServer;
  const proxy = (name: keyof typeof proxies): FaultProxy => proxies[name]!;

  beforeAll(async () => {
    upstream = await startDistribution();
    for (const name of ['hub', 'ghcr', 'quay'] as const) proxies[name] = await startFaultProxy(upstream.url);
    const yaml = (await readmeConfig())
      .replace('url: https://registry-1.docker.io', `url: ${proxy('hub').url}\n      prefix: docker.io\n      libraryPrefix: true`)
      .replace(/url: https:\/\/ghcr\.io(.*)/, `url: ${proxy('ghcr').url}$1\n      prefix: ghcr.io`)
      .replace('url: https://quay.io', `url: ${proxy('quay').url}`);
    for (const name of ['hub', 'ghcr', 'quay'] as const) expect(yaml).toContain(proxy(name).url);
    mirror = await startServerOn(undefined, { args: ['--config', await writeConfig(yaml)] });
  });

  afterAll(async () => {
    await mirror?.stop();
    for (const p of Object.values(proxies)) await p?.close();
    await upstream?.stop();
  });

  /** Pushes a small image straight to the upstream (not through a proxy) and tags it v1. */
  async function pushUpstream(repo: string): Promise<string> {
    const image = await pushHttpImage(upstream.url, repo, [new Uint8Array(4096).fill(repo.length)]);
    const bytes = await fetchVerified(upstream.url, repo, 'manifests', image.digest);
    const tagged = await fetch(`${upstream.url}/v2/${repo}/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': image.mediaType }, body: new Uint8Array(bytes) });
    expect(tagged.status).toBe(201);
    return image.digest;
  }

  it('sends unqualified names to Docker Hub with library/ added', async () => {
    const digest = await pushUpstream('library/alpine');
    expect((await pullAll(mirror.url, 'alpine', 'v1')).digest).toBe(digest);
    expect(proxy('hub').count('GET', '/v2/library/alpine/manifests/')).toBeGreaterThan(0);
    expect(proxy('ghcr').count('GET') + proxy('quay').count('GET')).toBe(0);
  });

  it('sends ghcr.io/<org>/<app> to ghcr, by prefix and by containerd\'s ?ns=', async () => {
    const digest = await pushUpstream('org/app');
    expect((await pullAll(mirror.url, 'ghcr.io/org/app', 'v1')).digest).toBe(digest);
    const byNs = await fetch(`${mirror.url}/v2/org/app/manifests/v1?ns=ghcr.io`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(byNs.status).toBe(200);
    expect(byNs.headers.get('oci-namespace')).toBe('ghcr.io');
    expect(proxy('ghcr').count('GET', '/v2/org/app/manifests/')).toBeGreaterThan(0);
  });

  it('sends quay/<org>/<app> to quay', async () => {
    const digest = await pushUpstream('org/tool');
    expect((await pullAll(mirror.url, 'quay/org/tool', 'v1')).digest).toBe(digest);
    expect(proxy('quay').count('GET', '/v2/org/tool/manifests/')).toBeGreaterThan(0);
  });

  it('keeps team/* a local push namespace and refuses pushes into mirrored ones', async () => {
    const local = await fetch(`${mirror.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    expect(local.status).toBe(202);
    const mirrored = await fetch(`${mirror.url}/v2/ghcr.io/org/app/blobs/uploads/`, { method: 'POST' });
    expect(mirrored.status).toBe(405);
    expect(((await mirrored.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNSUPPORTED');
  });
});
