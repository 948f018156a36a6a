import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const hasSkopeo = await run('skopeo', ['--version']).then(
  () => true,
  () => false,
);
// CI installs skopeo; there a missing binary is a failure, not a skip.
const describeSkopeo = hasSkopeo || process.env.CI ? describe : describe.skip;

const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20 });

describeSkopeo('skopeo round trip', () => {
  let server: TestServer;
  let host: string;
  const cleanup: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    host = new URL(server.url).host;
  });
  afterAll(async () => {
    await server?.stop();
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  it('copies a multi-platform, multi-layer OCI image in and back out byte for byte', async () => {
    const source = await makeImageLayout('v1');
    const back = await mkdtemp(join(tmpdir(), 'berth-back-'));
    cleanup.push(source.dir, back);

    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${source.dir}:v1`, `docker://${host}/skopeo/round-trip:v1`);

    const { stdout: raw } = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/skopeo/round-trip:v1`);
    const served = JSON.parse(raw) as { manifests: unknown[] };
    expect(served.manifests).toHaveLength(2);
    const indexBytes = await readFile(join(source.dir, 'blobs', 'sha256', source.index.slice(7)));
    expect(raw).toBe(indexBytes.toString());

    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/skopeo/round-trip:v1`, `oci:${back}:v1`);

    const sourceBlobs = (await readdir(join(source.dir, 'blobs', 'sha256'))).sort();
    const backBlobs = (await readdir(join(back, 'blobs', 'sha256'))).sort();
    expect(backBlobs).toEqual(sourceBlobs);
    for (const blob of sourceBlobs) {
      const [a, b] = await Promise.all([
        readFile(join(source.dir, 'blobs', 'sha256', blob)),
        readFile(join(back, 'blobs', 'sha256', blob)),
      ]);
      expect(b.equals(a), `blob ${blob} differs after the round trip`).toBe(true);
    }
  });

  it('copies between two repositories of berth (cross-repository mount) and lists the tags', async () => {
    await skopeo('copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/skopeo/round-trip:v1`, `docker://${host}/skopeo/copy:v2`);
    const { stdout } = await skopeo('list-tags', '--tls-verify=false', `docker://${host}/skopeo/copy`);
    expect((JSON.parse(stdout) as { Tags: string[] }).Tags).toEqual(['v2']);
    const [a, b] = await Promise.all([
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/skopeo/round-trip:v1`),
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/skopeo/copy:v2`),
    ]);
    expect(b.stdout).toBe(a.stdout);
  });
});
