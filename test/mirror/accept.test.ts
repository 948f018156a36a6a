/**
 * A client whose `Accept` does not admit a tag's cached manifest. The stand-in upstream is CNCF
 * distribution, which answers a docker manifest list asked for with only the docker v2 image type
 * by its linux/amd64 image (as Docker Hub does for old clients), and an OCI index asked for that
 * way with 404. The fault proxy in front records the `Accept` the mirror sends.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { allManifestTypes, mediaType, pushHttpImage, pushHttpIndex, sha256, startMirrorStack, type Descriptor, type MirrorStack } from '../support/mirror.ts';
import type { TestServer } from '../support/server.ts';

const describeAccept = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const dockerOnly = mediaType.dockerManifest;

interface Answer {
  status: number;
  type: string | null;
  digest: string;
  warning: string | null;
  body: Uint8Array;
}

async function get(url: string, accept: string, method = 'GET'): Promise<Answer> {
  const res = await fetch(url, { method, headers: { Accept: accept } });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), digest: res.headers.get('docker-content-digest') ?? '', warning: res.headers.get('warning'), body };
}

describeAccept('mirror: the client’s Accept when the cached manifest does not suit it', () => {
  let stack: MirrorStack;
  let upstream: Distribution;
  let proxy: FaultProxy;
  let mirror: TestServer;
  let list: Descriptor;
  let amd64: Descriptor;

  /** A two-platform docker manifest list (or OCI index) of docker v2 (or OCI) images as `repo:v1`. */
  async function pushMultiArch(repo: string, docker: boolean): Promise<{ index: Descriptor; images: Descriptor[] }> {
    const images = [];
    for (const architecture of ['amd64', 'arm64']) images.push(await pushHttpImage(upstream.url, repo, [randomBytes(1000)], { docker, architecture }));
    return { index: await pushHttpIndex(upstream.url, repo, 'v1', images, { docker }), images };
  }

  /** The upstream requests for the tag (not by digest), with the `Accept` each carried. */
  const tagRequests = (repo: string): Array<{ method: string; accept: string | undefined }> =>
    proxy.requests.filter((r) => r.path === `/v2/${repo}/manifests/v1`).map((r) => ({ method: r.method, accept: r.accept }));

  beforeAll(async () => {
    stack = await startMirrorStack((url) => [
      'upstreams:',
      `  - { name: up, url: "${url}", prefix: up, tagTtl: 1h }`,
      `  - { name: short, url: "${url}", prefix: short, tagTtl: 1 }`,
    ]);
    ({ upstream, proxy, mirror } = stack);
    const pushed = await pushMultiArch('multi/app', true);
    list = pushed.index;
    amd64 = pushed.images[0]!;
    await pushMultiArch('multi/short', true);
    await pushMultiArch('multi/oci', false);
  });

  afterAll(() => stack?.stop());

  it('gives a docker-v2-only client what the upstream gives that Accept, and leaves the tag on the list', async () => {
    const all = await get(`${mirror.url}/v2/up/multi/app/manifests/v1`, allManifestTypes);
    expect(all).toMatchObject({ status: 200, type: mediaType.dockerList, digest: list.digest });

    const direct = await get(`${upstream.url}/v2/multi/app/manifests/v1`, dockerOnly);
    expect(direct).toMatchObject({ status: 200, type: dockerOnly, digest: amd64.digest });
    proxy.reset();
    const narrow = await get(`${mirror.url}/v2/up/multi/app/manifests/v1`, dockerOnly);
    expect(narrow).toMatchObject({ status: 200, type: dockerOnly, digest: direct.digest });
    expect(sha256(narrow.body)).toBe(direct.digest);
    expect(Buffer.from(narrow.body).equals(Buffer.from(direct.body))).toBe(true);
    // The mirror asked with the client's type, not with all of them; the list was cached already.
    const asked = tagRequests('multi/app');
    expect(asked.length).toBeGreaterThan(0);
    for (const r of asked) expect(r.accept).toBe(dockerOnly);
    // Only the manifest: nothing it references was fetched eagerly.
    expect(proxy.requests.filter((r) => r.path.includes('/blobs/'))).toEqual([]);

    // The shared tag still answers all-types clients with the list; the narrow answer is remembered.
    proxy.reset();
    expect(await get(`${mirror.url}/v2/up/multi/app/manifests/v1`, allManifestTypes)).toMatchObject({ status: 200, digest: list.digest });
    expect(await get(`${mirror.url}/v2/up/multi/app/manifests/v1`, dockerOnly, 'HEAD')).toMatchObject({ status: 200, digest: amd64.digest });
    expect(await get(`${mirror.url}/v2/up/multi/app/manifests/v1`, dockerOnly)).toMatchObject({ status: 200, digest: amd64.digest });
    expect(proxy.requests).toEqual([]);

    // It was stored by digest, verified: served with the upstream down.
    proxy.fault = () => ({ kind: 'status', status: 503 });
    try {
      const byDigest = await get(`${mirror.url}/v2/up/multi/app/manifests/${amd64.digest}`, dockerOnly);
      expect(byDigest).toMatchObject({ status: 200, digest: amd64.digest });
      expect(sha256(byDigest.body)).toBe(amd64.digest);
    } finally {
      proxy.reset();
    }
  });

  it('revalidates the narrow answer with a HEAD after the tag TTL, and serves it stale when the upstream is down', async () => {
    const url = `${mirror.url}/v2/short/multi/short/manifests/v1`;
    const first = await get(url, dockerOnly);
    expect(first).toMatchObject({ status: 200, type: dockerOnly });
    await sleep(1_100);
    proxy.reset();
    expect(await get(url, dockerOnly)).toMatchObject({ status: 200, digest: first.digest, warning: null });
    // One HEAD for the tag's shared answer, one with the client's type; no GET: nothing changed.
    expect(tagRequests('multi/short')).toEqual([
      { method: 'HEAD', accept: expect.stringContaining(mediaType.dockerList) as unknown as string },
      { method: 'HEAD', accept: dockerOnly },
    ]);
    await sleep(1_100);
    proxy.fault = () => ({ kind: 'status', status: 503 });
    try {
      const stale = await get(url, dockerOnly);
      expect(stale).toMatchObject({ status: 200, digest: first.digest });
      expect(stale.warning).toMatch(/^299 - "Response is stale: .*"$/);
    } finally {
      proxy.reset();
    }
  });

  it('refuses as before when the upstream has nothing for that Accept, and remembers it', async () => {
    const url = `${mirror.url}/v2/up/multi/oci/manifests/v1`;
    expect(await get(url, allManifestTypes)).toMatchObject({ status: 200, type: mediaType.ociIndex });
    // distribution: "OCI index found, but accept header does not support OCI indexes".
    expect((await get(`${upstream.url}/v2/multi/oci/manifests/v1`, dockerOnly)).status).toBe(404);
    proxy.reset();
    for (let i = 0; i < 2; i++) {
      const refused = await get(url, dockerOnly);
      expect(refused.status).toBe(404);
      const error = (JSON.parse(new TextDecoder().decode(refused.body)) as { errors: Array<{ code: string; message: string }> }).errors[0];
      expect(error?.code).toBe('MANIFEST_UNKNOWN');
      expect(error?.message).toMatch(/Accept header does not admit/);
    }
    // Asked once, with the client's type; the second refusal came from memory.
    expect(tagRequests('multi/oci')).toEqual([{ method: 'HEAD', accept: dockerOnly }]);
  });
});
