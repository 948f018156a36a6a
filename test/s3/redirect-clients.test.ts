/**
 * Real clients pulling from berth on S3 with `storage.s3.redirect`: skopeo, podman, dockerd and
 * containerd, under token auth, follow berth's 307s to the store (Ceph RGW behind a counting proxy
 * that plays its public name), so the layers they unpack came from the store, not through berth;
 * and a mirrored image, streamed from its fill the first time, redirects once committed.
 *
 * The store's public name is `localhost` while berth is `127.0.0.1`: Go clients resend their
 * registry credentials on a redirect to the same host name (whatever the port), and S3 refuses a
 * request that carries both them and a signature (400 InvalidArgument). README: S3 section.
 *
 * Node only: the clients see the same HTTP from every runtime, which test/s3/redirect.test.ts
 * checks on all three.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, clientUsers, hasTool } from '../support/auth.ts';
import { containerdAvailable, startContainerd, type Containerd } from '../support/containerd.ts';
import { dockerdMissing, startDockerd, type Dockerd } from '../support/dockerd.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { createBucket, s3Available, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import { startServer, testRuntime, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';
import { makeKey } from '../support/tokens.ts';

const run = promisify(execFile);

const missing = [
  ...(s3Available ? [] : ['../shared/s3']),
  ...(hasSkopeo ? [] : ['skopeo']),
  ...((await hasTool('podman')) ? [] : ['podman']),
  ...(await dockerdMissing()),
  ...((await containerdAvailable()) ? [] : ['containerd']),
];
const runs = testRuntime === 'node' && (missing.length === 0 || Boolean(process.env.CI));
const why = testRuntime !== 'node' ? ' (on node only)' : runs ? '' : ` (skipped: needs ${missing.join(', ')})`;

const reader = `reader:${clientUsers.reader}`;
const pusher = `pusher:${clientUsers.pusher}`;
/** The platform a daemon picks from the two-platform index on this machine. */
const architecture = process.arch === 'arm64' ? 'arm64' : 'amd64';

interface Descriptor {
  digest: string;
  platform?: { architecture: string };
}

/** The images of an index in a layout: each platform's config and layers. */
async function imagesOf(dir: string, index: string): Promise<Array<{ architecture: string | undefined; blobs: string[] }>> {
  const read = async (digest: string): Promise<unknown> => JSON.parse(await readFile(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
  const { manifests } = (await read(index)) as { manifests: Descriptor[] };
  return Promise.all(
    manifests.map(async (m) => {
      const doc = (await read(m.digest)) as { config: Descriptor; layers: Descriptor[] };
      return { architecture: m.platform?.architecture, blobs: [doc.config.digest, ...doc.layers.map((l) => l.digest)] };
    }),
  );
}

(runs ? describe : describe.skip)(`real clients pulling through presigned redirects from RGW${why}`, () => {
  let work: string;
  let s3: S3Server;
  let bucket: string;
  let publicS3: FaultProxy;
  let upstream: TestServer;
  let berth: TestServer;
  let host: string;
  let layoutDir: string;
  /** Every blob of the image (both platforms), and those of this machine's platform. */
  let allBlobs: string[];
  let platformBlobs: string[];
  /** Another image, only the mirror's upstream has: no blob of it is in the bucket before it is pulled. */
  let mirroredDir: string;
  let mirroredBlobs: string[];
  let dockerd: Dockerd | undefined;
  let containerd: Containerd | undefined;

  const objectPath = (digest: string): string => `/${bucket}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const storeGets = (digests: string[]): number[] => digests.map((d) => publicS3.count('GET', objectPath(d)));

  /** What berth answered to the blob GETs of `repo` it logged from `since` (a length of its log) on. */
  const blobAnswers = (since: number, repo: string): Array<{ path: string; status: number }> =>
    berth
      .logs()
      .slice(since)
      .split('\n')
      .filter((l) => l.includes('"msg":"request"') && l.includes('"method":"GET"') && l.includes(`"path":"/v2/${repo}/blobs/`))
      .map((l) => JSON.parse(l) as { path: string; status: number });

  /**
   * Runs a pull and checks that every blob the client needed was answered 307 by berth and fetched
   * once from the store, and that berth served no blob bytes itself.
   */
  async function expectRedirected(repo: string, needed: string[], pull: () => Promise<unknown>): Promise<void> {
    const since = berth.logs().length;
    const before = storeGets(needed);
    await pull();
    const answers = blobAnswers(since, repo);
    expect(answers.filter((a) => a.status !== 307)).toEqual([]);
    for (const digest of needed) expect(answers.some((a) => a.path.endsWith(digest)), digest).toBe(true);
    expect(storeGets(needed).map((n, i) => n - before[i]!)).toEqual(needed.map(() => 1));
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI is set, so this test must run, but it needs ${missing.join(', ')}`);
    work = await mkdtemp(join(tmpdir(), 'berth-redirect-clients-'));
    s3 = await startS3();
    bucket = await createBucket(s3, 'redirect-clients');
    publicS3 = await startFaultProxy(s3.endpoint, { keepHost: true });
    const publicUrl = publicS3.url.replace('127.0.0.1', 'localhost');

    const layout = await makeImageLayout('v1', [300_000, 1_500_000]);
    layoutDir = layout.dir;
    const images = await imagesOf(layout.dir, layout.index);
    allBlobs = [...new Set(images.flatMap((i) => i.blobs))];
    const mine = images.find((i) => i.architecture === architecture);
    if (!mine) throw new Error(`the test image has no ${architecture} manifest`);
    platformBlobs = mine.blobs;

    // The mirror's upstream: a plain berth on local disk.
    const mirrored = await makeImageLayout('v1', [400_000]);
    mirroredDir = mirrored.dir;
    mirroredBlobs = [...new Set((await imagesOf(mirrored.dir, mirrored.index)).flatMap((i) => i.blobs))];
    upstream = await startServer();
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${mirrored.dir}:v1`, `docker://${new URL(upstream.url).host}/lib/app:v1`);

    const key = await makeKey();
    await writeFile(join(work, 'token-key.pem'), key.pem, { mode: 0o600 });
    const config = clientConfig(['redirect/**', 'up/**']) as { auth: Record<string, unknown> };
    const configFile = join(work, 'berth.json');
    await writeFile(
      configFile,
      JSON.stringify({
        auth: { ...config.auth, token: { key: join(work, 'token-key.pem') } },
        mirror: { upstreams: [{ name: 'up', url: upstream.url, prefix: 'up' }] },
      }),
    );
    berth = await startS3Server(s3, bucket, { args: ['--config', configFile], storage: { redirect: { enabled: true, endpoint: publicUrl } } });
    host = new URL(berth.url).host;
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', pusher, `oci:${layout.dir}:v1`, `docker://${host}/redirect/app:v1`);
  }, 300_000);

  afterAll(async () => {
    await dockerd?.stop();
    containerd?.stop();
    await berth?.stop();
    await upstream?.stop();
    await publicS3?.close();
    await s3?.stop();
    for (const d of [work, layoutDir, mirroredDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('skopeo copies the image out byte for byte, every blob from the store', async () => {
    const out = join(work, 'skopeo-out');
    await expectRedirected('redirect/app', allBlobs, () =>
      skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-creds', reader, `docker://${host}/redirect/app:v1`, `oci:${out}:v1`),
    );
    for (const name of await readdir(join(layoutDir, 'blobs', 'sha256'))) {
      const [a, b] = await Promise.all([readFile(join(layoutDir, 'blobs', 'sha256', name)), readFile(join(out, 'blobs', 'sha256', name))]);
      expect(a.equals(b), name).toBe(true);
    }
  });

  it('podman pulls it, every blob from the store', async () => {
    const podman = (...args: string[]) =>
      run('podman', ['--root', join(work, 'podman', 'root'), '--runroot', join(work, 'podman', 'run'), '--storage-driver', 'vfs', ...args], { maxBuffer: 16 << 20 });
    await expectRedirected('redirect/app', platformBlobs, () => podman('pull', '--tls-verify=false', '--creds', reader, `${host}/redirect/app:v1`));
    const { stdout } = await podman('image', 'inspect', '--format', '{{.Id}}', `${host}/redirect/app:v1`);
    expect(`sha256:${stdout.trim()}`).toBe(platformBlobs[0]);
  });

  it('dockerd pulls it, every blob from the store', async () => {
    await mkdir(join(work, 'dockerd'));
    dockerd = await startDockerd(join(work, 'dockerd'));
    const { docker } = dockerd;
    await docker('login', '--username', 'reader', '--password', clientUsers.reader, host);
    await expectRedirected('redirect/app', platformBlobs, () =>
      docker('pull', `${host}/redirect/app:v1`).catch((e: unknown) => {
        throw new Error(`docker pull failed: ${e instanceof Error ? e.message : String(e)}\n--- dockerd:\n${dockerd?.log() ?? ''}`);
      }),
    );
    const { stdout } = await docker('image', 'inspect', '--format', '{{.Id}}', `${host}/redirect/app:v1`);
    expect(stdout.trim()).toBe(platformBlobs[0]);
  });

  it('containerd pulls and unpacks it, every blob from the store', async () => {
    await mkdir(join(work, 'containerd'));
    containerd = await startContainerd(join(work, 'containerd'));
    const { ctr } = containerd;
    await expectRedirected('redirect/app', platformBlobs, () => ctr('images', 'pull', '--plain-http', '--user', reader, `${host}/redirect/app:v1`));
    const { stdout } = await ctr('images', 'ls');
    expect(stdout).toContain(`${host}/redirect/app:v1`);
  });

  it('skopeo pulls a mirrored image: streamed from the fills the first time, redirected to the store once committed', async () => {
    const since = berth.logs().length;
    await skopeo('copy', '--all', '--src-tls-verify=false', '--src-creds', reader, `docker://${host}/up/lib/app:v1`, `oci:${join(work, 'cold')}:v1`);
    // Cold: every blob GET was answered by berth from an upstream fill, none sent to the store.
    const cold = blobAnswers(since, 'up/lib/app');
    for (const digest of mirroredBlobs) expect(cold.some((a) => a.path.endsWith(digest) && a.status === 200), digest).toBe(true);
    expect(storeGets(mirroredBlobs)).toEqual(mirroredBlobs.map(() => 0));

    const warm = join(work, 'warm');
    await expectRedirected('up/lib/app', mirroredBlobs, () => skopeo('copy', '--all', '--src-tls-verify=false', '--src-creds', reader, `docker://${host}/up/lib/app:v1`, `oci:${warm}:v1`));
    for (const digest of mirroredBlobs) {
      const [a, b] = await Promise.all([readFile(join(mirroredDir, 'blobs', 'sha256', digest.slice(7))), readFile(join(warm, 'blobs', 'sha256', digest.slice(7)))]);
      expect(a.equals(b), digest).toBe(true);
    }
  });
});
