/**
 * Chained mirrors (issue 16): berth → berth (a mirror itself) → CNCF distribution, a fault proxy
 * counting requests in front of each of the two upstreams. Cold pulls through the outer berth by
 * skopeo and by containerd succeed, and every manifest and blob crosses each hop exactly once; the
 * middle berth answers a HEAD for a blob it has not cached from its own upstream, not with a 404
 * (what distribution issue 4747 breaks).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { containerdAvailable, startContainerd, type Containerd } from '../support/containerd.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const describeChain = ((await hasTool('docker-registry')) && hasSkopeo) || process.env.CI ? describe : describe.skip;
const withContainerd = (await containerdAvailable()) || process.env.CI ? it : it.skip;

/** What an image pushed from a layout is made of: its index, child manifests and blobs, by digest. */
interface Image {
  index: string;
  manifests: string[];
  blobs: string[];
}

/** Pushes a fresh two-platform image to distribution as `library/<repo>:v1`. */
async function pushImage(distribution: Distribution, repo: string): Promise<Image> {
  const layout = await makeImageLayout('v1', [200_000, 600_000]);
  try {
    const read = async (digest: string): Promise<{ manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> }> =>
      JSON.parse(await readFile(join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8')) as never;
    const manifests = ((await read(layout.index)).manifests ?? []).map((m) => m.digest);
    const blobs = new Set<string>();
    for (const m of manifests) {
      const doc = await read(m);
      for (const b of [doc.config!, ...(doc.layers ?? [])]) blobs.add(b.digest);
    }
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${new URL(distribution.url).host}/library/${repo}:v1`);
    return { index: layout.index, manifests, blobs: [...blobs] };
  } finally {
    await rm(layout.dir, { recursive: true, force: true });
  }
}

describeChain('chained mirrors: berth → berth → distribution', () => {
  let dir: string;
  let distribution: Distribution;
  let toDistribution: FaultProxy;
  let middle: TestServer;
  let toMiddle: FaultProxy;
  let outer: TestServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-chain-'));
    distribution = await startDistribution();
    toDistribution = await startFaultProxy(distribution.url);
    // The middle mirror serves distribution's names as they are (its default upstream)...
    const middleConfig = await writeConfig(['mirror:', '  default: origin', '  upstreams:', `    - { name: origin, url: "${toDistribution.url}", prefix: origin }`, ''].join('\n'));
    middle = await startServer({ args: ['--config', middleConfig] });
    toMiddle = await startFaultProxy(middle.url);
    // ...and the outer one stands for docker.io in front of it, as containerd's hosts.toml expects.
    const outerConfig = await writeConfig(
      ['mirror:', '  default: middle', '  upstreams:', `    - { name: middle, url: "${toMiddle.url}", prefix: docker.io, libraryPrefix: true }`, ''].join('\n'),
    );
    outer = await startServer({ args: ['--config', outerConfig] });
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(outer?.logs(), middle?.logs());
    await outer?.stop();
    await toMiddle?.close();
    await middle?.stop();
    await toDistribution?.close();
    await distribution?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Each manifest (by digest) and each blob was fetched once by GET at each hop, and nothing else was. */
  function crossedOnce(image: Image, repo: string): void {
    for (const [hop, proxy] of [
      ['middle', toMiddle],
      ['distribution', toDistribution],
    ] as const) {
      for (const blob of image.blobs) expect(proxy.count('GET', `/v2/library/${repo}/blobs/${blob}`), `${hop}: blob ${blob}`).toBe(1);
      for (const m of [image.index, ...image.manifests]) expect(proxy.count('GET', `/v2/library/${repo}/manifests/${m}`), `${hop}: manifest ${m}`).toBeLessThanOrEqual(1);
      // The tag once, and every manifest once, whether asked for by tag or by digest.
      const manifestGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/'));
      expect(manifestGets, hop).toHaveLength(1 + image.manifests.length);
      const blobGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
      expect(blobGets, hop).toHaveLength(image.blobs.length);
    }
  }

  it('a cold pull by skopeo (all platforms) succeeds, and each layer crosses each hop once', async () => {
    const image = await pushImage(distribution, 'sk');
    toMiddle.reset();
    toDistribution.reset();
    const out = join(dir, 'skopeo-out');
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${new URL(outer.url).host}/docker.io/library/sk:v1`, `oci:${out}:v1`);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests[0]?.digest).toBe(image.index);
    crossedOnce(image, 'sk');
    // A second pull is served by the outer berth alone.
    toMiddle.reset();
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${new URL(outer.url).host}/docker.io/library/sk:v1`, `oci:${join(dir, 'skopeo-again')}:v1`);
    expect(toMiddle.requests.filter((r) => r.method === 'GET')).toEqual([]);
  });

  withContainerd('a cold pull by containerd (hosts.toml naming the outer berth for docker.io) succeeds, and each layer crosses each hop once', async () => {
    const image = await pushImage(distribution, 'ct');
    const containerd: Containerd = await startContainerd(dir);
    try {
      await mkdir(join(dir, 'certs.d', 'docker.io'), { recursive: true });
      await writeFile(
        join(dir, 'certs.d', 'docker.io', 'hosts.toml'),
        ['server = "https://registry-1.docker.io"', '', `[host."${outer.url}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
      );
      toMiddle.reset();
      toDistribution.reset();
      await containerd.ctr('images', 'pull', '--all-platforms', '--hosts-dir', join(dir, 'certs.d'), '--plain-http', 'docker.io/library/ct:v1');
      const { stdout } = await containerd.ctr('images', 'ls');
      expect(stdout).toMatch(new RegExp(`docker\\.io/library/ct:v1\\s+\\S+\\s+${image.index}`));
      crossedOnce(image, 'ct');
    } finally {
      containerd.stop();
    }
  });

  it('the middle berth answers a HEAD for a blob it has not cached from its upstream, and the outer one passes it on', async () => {
    const image = await pushImage(distribution, 'hd');
    const [viaMiddle, viaOuter] = [image.blobs[0]!, image.blobs[1]!];
    const direct = await fetch(`${middle.url}/v2/library/hd/blobs/${viaMiddle}`, { method: 'HEAD' });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('docker-content-digest')).toBe(viaMiddle);
    const chained = await fetch(`${outer.url}/v2/docker.io/library/hd/blobs/${viaOuter}`, { method: 'HEAD' });
    expect(chained.status).toBe(200);
    expect(chained.headers.get('docker-content-digest')).toBe(viaOuter);
    expect(Number(chained.headers.get('content-length'))).toBeGreaterThan(0);
  });
});
