/**
 * The README's dockerd setup, tried for real: Debian's dockerd with `registry-mirrors` naming berth
 * pulls `app:v1` (Docker Hub's `library/app`); berth gets it from a local stand-in for Docker Hub
 * (CNCF distribution, behind a proxy that counts requests). dockerd falls back to Docker Hub when
 * the mirror fails, but the image's config is random, so the image ID dockerd reports can only have
 * come through berth (and Docker Hub is out of reach on the CI machine anyway).
 *
 * Each runtime project starts its own dockerd: its own data-root, exec-root, socket, pidfile and
 * trust key in a temporary directory, vfs storage, no bridge, no iptables, no ip_forward change, so
 * nothing in /etc/docker, /var/lib/docker or /var/run/docker is shared between them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { dockerdMissing, startDockerd, type Dockerd } from '../support/dockerd.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const missing = [...(await dockerdMissing()), ...((await hasTool('docker-registry')) ? [] : ['docker-registry']), ...(hasSkopeo ? [] : ['skopeo'])];
// CI installs docker.io (dockerd and the docker CLI) and runs as root; there a missing piece fails.
const runs = missing.length === 0 || Boolean(process.env.CI);
const describeDockerd = runs ? describe : describe.skip;

/** The platform dockerd picks from a multi-platform index on this machine. */
const architecture = process.arch === 'arm64' ? 'arm64' : 'amd64';

interface Descriptor {
  digest: string;
  platform?: { architecture: string };
}

describeDockerd(`dockerd pulling through berth (registry-mirrors)${runs ? '' : ` (skipped: needs ${missing.join(', ')})`}`, () => {
  let dir: string;
  let dockerd: Dockerd | undefined;
  let upstream: Distribution;
  let proxy: FaultProxy;
  let mirror: TestServer;
  let layoutDir: string | undefined;
  let configFile: string | undefined;
  /** The index the tag names, and the config and layers of this machine's platform. */
  let index: string;
  let config: string;
  let layers: string[];

  const docker = (...args: string[]) => {
    if (!dockerd) throw new Error('dockerd did not start');
    return dockerd.docker(...args);
  };

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI is set, so this test must run, but it needs ${missing.join(', ')}`);
    dir = await mkdtemp(join(tmpdir(), 'berth-dockerd-'));
    upstream = await startDistribution();
    proxy = await startFaultProxy(upstream.url);

    const layout = await makeImageLayout('v1', [300_000]);
    layoutDir = layout.dir;
    index = layout.index;
    const blob = async (digest: string) => JSON.parse(await readFile(join(layout.dir, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as unknown;
    const { manifests } = (await blob(index)) as { manifests: Descriptor[] };
    const image = manifests.find((m) => m.platform?.architecture === architecture);
    if (!image) throw new Error(`the test image has no ${architecture} manifest`);
    const manifest = (await blob(image.digest)) as { config: Descriptor; layers: Descriptor[] };
    config = manifest.config.digest;
    layers = manifest.layers.map((l) => l.digest);
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${new URL(upstream.url).host}/library/app:v1`);

    // The README's Docker Hub upstream, with the URL swapped for the stand-in (prefix and
    // `library/` are what berth gives https://registry-1.docker.io by itself).
    configFile = await writeConfig(
      ['mirror:', '  default: hub', '  upstreams:', `    - { name: hub, url: "${proxy.url}", prefix: docker.io, libraryPrefix: true, tagTtl: 5m }`, ''].join('\n'),
    );
    mirror = await startServer({ args: ['--config', configFile] });

    // The README's daemon.json (an http:// URL, which dockerd uses as written); the helper keeps
    // this dockerd to its own directory.
    dockerd = await startDockerd(dir, { 'registry-mirrors': [mirror.url] });
  });

  afterAll(async () => {
    await dockerd?.stop();
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
    for (const d of [dir, layoutDir, configFile && join(configFile, '..')]) if (d) await rm(d, { recursive: true, force: true });
  });

  const inspect = async (): Promise<{ Id: string; RepoTags: string[]; RepoDigests: string[] }> =>
    (JSON.parse((await docker('image', 'inspect', 'app:v1')).stdout) as Array<{ Id: string; RepoTags: string[]; RepoDigests: string[] }>)[0]!;

  it('pulls app:v1 from the mirror, which fetched it from the upstream once', async () => {
    await docker('pull', 'app:v1').catch((e: unknown) => {
      throw new Error(`docker pull failed: ${e instanceof Error ? e.message : String(e)}\n--- dockerd:\n${dockerd?.log() ?? ''}\n--- berth:\n${mirror.logs()}`);
    });
    const image = await inspect();
    // The image ID is the config's digest: the random image from the stand-in, not anything on Docker Hub.
    expect(image.Id).toBe(config);
    expect(image.RepoTags).toEqual(['app:v1']);
    expect(image.RepoDigests).toEqual([`app@${index}`]);
    // dockerd asked berth for Docker Hub's name, and berth fetched each blob from the upstream once.
    expect(mirror.logs()).toContain('"path":"/v2/library/app/manifests/v1"');
    for (const digest of [config, ...layers]) expect(proxy.count('GET', `/v2/library/app/blobs/${digest}`), digest).toBe(1);
  });

  it('pulls it again after docker rmi without asking the upstream for a blob', async () => {
    await docker('rmi', 'app:v1');
    expect((await docker('images', '--quiet')).stdout.trim()).toBe('');
    const before = proxy.requests.length;
    const logged = mirror.logs().length;
    await docker('pull', 'app:v1');
    expect((await inspect()).Id).toBe(config);
    // dockerd fetched the blobs again, all from berth's storage.
    const served = mirror.logs().slice(logged).match(/"method":"GET","path":"\/v2\/library\/app\/blobs\//g) ?? [];
    expect(served.length).toBe(1 + layers.length);
    expect(proxy.requests.slice(before).filter((r) => r.path.includes('/blobs/'))).toEqual([]);
  });
});
