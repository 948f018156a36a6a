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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const missing = [
  ...((await hasTool('dockerd')) ? [] : ['dockerd']),
  ...((await hasTool('docker')) ? [] : ['docker']),
  ...((await hasTool('docker-registry')) ? [] : ['docker-registry']),
  ...(hasSkopeo ? [] : ['skopeo']),
  ...(process.getuid?.() === 0 ? [] : ['root']),
];
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
  let dockerd: ChildProcess | undefined;
  let dockerdLog = '';
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
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`, DOCKER_CONFIG: join(dir, 'cli') };
    delete env.DOCKER_CONTEXT;
    delete env.DOCKER_TLS_VERIFY;
    delete env.DOCKER_CERT_PATH;
    return run('docker', args, { env, maxBuffer: 16 << 20 });
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

    // The README's daemon.json (an http:// URL, which dockerd uses as written), plus what keeps this
    // dockerd to its own directory.
    const daemon = {
      'registry-mirrors': [mirror.url],
      'storage-driver': 'vfs',
      iptables: false,
      ip6tables: false,
      'ip-forward': false,
      bridge: 'none',
      'data-root': join(dir, 'root'),
      'exec-root': join(dir, 'exec'),
      pidfile: join(dir, 'docker.pid'),
      'deprecated-key-path': join(dir, 'key.json'),
      hosts: [`unix://${join(dir, 'docker.sock')}`],
    };
    await writeFile(join(dir, 'daemon.json'), JSON.stringify(daemon, null, 2));
    const child = spawn('dockerd', ['--config-file', join(dir, 'daemon.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    dockerd = child;
    child.on('error', (e) => (dockerdLog += `spawn: ${e.message}\n`));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (dockerdLog += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (dockerdLog += d));
    for (let started = Date.now(); ; await sleep(200)) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}):\n${dockerdLog}`);
      if (await docker('version').then(() => true, () => false)) break;
      if (Date.now() - started > 30_000) throw new Error(`dockerd did not answer in 30 s:\n${dockerdLog}`);
    }
  });

  afterAll(async () => {
    if (dockerd && dockerd.exitCode === null && dockerd.signalCode === null) {
      const exited = new Promise((r) => dockerd?.once('exit', r));
      dockerd.kill('SIGTERM');
      const timer = setTimeout(() => dockerd?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // dockerd bind-mounts its data-root onto itself and undoes that on a clean exit; not after a kill.
    if (dir) await run('umount', [join(dir, 'root')]).catch(() => undefined);
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
    for (const d of [dir, layoutDir, configFile && join(configFile, '..')]) if (d) await rm(d, { recursive: true, force: true });
  });

  const inspect = async (): Promise<{ Id: string; RepoTags: string[]; RepoDigests: string[] }> =>
    (JSON.parse((await docker('image', 'inspect', 'app:v1')).stdout) as Array<{ Id: string; RepoTags: string[]; RepoDigests: string[] }>)[0]!;

  it('pulls app:v1 from the mirror, which fetched it from the upstream once', async () => {
    await docker('pull', 'app:v1').catch((e: unknown) => {
      throw new Error(`docker pull failed: ${e instanceof Error ? e.message : String(e)}\n--- dockerd:\n${dockerdLog}\n--- berth:\n${mirror.logs()}`);
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
