/**
 * podman through the token flow: push with --creds, pull back, a pull-only user cannot push. Skipped
 * where podman is not installed (Debian: apt-get install podman); it runs rootless-free on vfs storage
 * in a temporary root, so it needs no daemon and leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, hasTool, startWithConfig, type AuthServer } from '../support/auth.ts';

const run = promisify(execFile);

describe.skipIf(!(await hasTool('podman')))('podman through the token flow', () => {
  let server: AuthServer;
  let host: string;
  let work: string;
  const podman = (...args: string[]) =>
    run('podman', ['--root', join(work, 'root'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', ...args], { maxBuffer: 16 << 20 });

  beforeAll(async () => {
    server = await startWithConfig(clientConfig(['podman/**']));
    host = new URL(server.url).host;
    work = await mkdtemp(join(tmpdir(), 'berth-podman-'));
    await mkdir(join(work, 'rootfs'));
    await writeFile(join(work, 'rootfs', 'hello.txt'), `hello ${Math.random()}\n`);
    await run('tar', ['-C', join(work, 'rootfs'), '-cf', join(work, 'rootfs.tar'), '.']);
    await podman('import', join(work, 'rootfs.tar'), 'localhost/berth-test:v1');
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pushes with --creds and pulls back with a reader', async () => {
    await podman('push', '--tls-verify=false', '--creds', 'pusher:push-pw', 'localhost/berth-test:v1', `docker://${host}/podman/app:v1`);
    await podman('rmi', 'localhost/berth-test:v1');
    const { stdout } = await podman('pull', '--tls-verify=false', '--creds', 'reader:read-pw', `${host}/podman/app:v1`);
    expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/m);
  });

  it('a pull-only user cannot push', async () => {
    const error = await podman('push', '--tls-verify=false', '--creds', 'reader:read-pw', `${host}/podman/app:v1`, `docker://${host}/podman/other:v1`).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? 'failed',
    );
    expect(error).toMatch(/unauthorized|denied|authentication required/i);
  });
});
