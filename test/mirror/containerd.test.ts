/**
 * The README's containerd setup, tried for real: containerd (Debian's) with a hosts.toml naming
 * berth as the mirror of docker.io pulls `docker.io/library/app:v1`; berth gets it from a local
 * stand-in for Docker Hub (CNCF distribution) through containerd's `?ns=docker.io`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { skopeo } from '../support/skopeo.ts';

const run = promisify(execFile);
const available = (await hasTool('containerd')) && process.getuid?.() === 0;
// CI installs containerd and runs as root; elsewhere the test needs both.
const describeContainerd = available || process.env.CI ? describe : describe.skip;

describeContainerd('containerd pulling through berth (hosts.toml)', () => {
  let dir: string;
  let containerd: ChildProcess;
  let upstream: Distribution;
  let mirror: TestServer;
  let socket: string;
  let index: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-containerd-'));
    socket = join(dir, 'containerd.sock');
    await writeFile(
      join(dir, 'config.toml'),
      ['version = 2', `root = "${join(dir, 'root')}"`, `state = "${join(dir, 'state')}"`, '[grpc]', `  address = "${socket}"`, ''].join('\n'),
    );
    containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: 'ignore' });
    upstream = await startDistribution();
    const layout = await makeImageLayout('v1', [300_000]);
    index = layout.index;
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${new URL(upstream.url).host}/library/app:v1`);
    await rm(layout.dir, { recursive: true, force: true });
    const config = await writeConfig(
      ['mirror:', '  default: hub', '  upstreams:', `    - { name: hub, url: "${upstream.url}", prefix: docker.io, libraryPrefix: true }`, ''].join('\n'),
    );
    mirror = await startServer({ args: ['--config', config] });
    // The README's hosts.toml, pointed at this berth over plain HTTP.
    await mkdir(join(dir, 'certs.d', 'docker.io'), { recursive: true });
    await writeFile(
      join(dir, 'certs.d', 'docker.io', 'hosts.toml'),
      ['server = "https://registry-1.docker.io"', '', `[host."${mirror.url}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
    );
    for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(async () => {
    containerd?.kill('SIGTERM');
    await mirror?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pulls and unpacks docker.io/library/app:v1 from the mirror', async () => {
    const ctr = (...args: string[]) => run('ctr', ['--address', socket, ...args], { maxBuffer: 16 << 20 });
    await ctr('images', 'pull', '--hosts-dir', join(dir, 'certs.d'), '--plain-http', 'docker.io/library/app:v1');
    const { stdout } = await ctr('images', 'ls');
    expect(stdout).toMatch(new RegExp(`docker\\.io/library/app:v1\\s+\\S+\\s+${index}`));
    // containerd asked berth (with ?ns=docker.io), and berth stored it under the upstream's prefix.
    expect(mirror.logs()).toContain('"path":"/v2/docker.io/library/app/manifests/v1"');
  });
});
