/**
 * The README's containerd setup, tried for real: containerd (Debian's) with a hosts.toml naming
 * berth as the mirror of docker.io pulls `docker.io/library/app:v1`; berth gets it from a local
 * stand-in for Docker Hub (CNCF distribution) through containerd's `?ns=docker.io`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { containerdAvailable, startContainerd, type Containerd } from '../support/containerd.ts';
import { writeConfig } from '../support/mirror.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { skopeo } from '../support/skopeo.ts';

const available = await containerdAvailable();
// CI installs containerd and runs as root; elsewhere the test needs both.
const describeContainerd = available || process.env.CI ? describe : describe.skip;

describeContainerd('containerd pulling through berth (hosts.toml)', () => {
  let dir: string;
  let containerd: Containerd;
  let upstream: Distribution;
  let mirror: TestServer;
  let index: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-containerd-'));
    containerd = await startContainerd(dir);
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
  });

  afterAll(async () => {
    containerd?.stop();
    await mirror?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pulls and unpacks docker.io/library/app:v1 from the mirror', async () => {
    const { ctr } = containerd;
    await ctr('images', 'pull', '--hosts-dir', join(dir, 'certs.d'), '--plain-http', 'docker.io/library/app:v1');
    const { stdout } = await ctr('images', 'ls');
    expect(stdout).toMatch(new RegExp(`docker\\.io/library/app:v1\\s+\\S+\\s+${index}`));
    // containerd asked berth (with ?ns=docker.io), and berth stored it under the upstream's prefix.
    expect(mirror.logs()).toContain('"path":"/v2/docker.io/library/app/manifests/v1"');
  });
});
