/** skopeo with credentials through berth's token flow: real client, real challenges. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImageLayout } from '../support/oci-layout.ts';
import { clientConfig, startWithConfig, type AuthServer } from '../support/auth.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

// CI installs skopeo; there a missing binary is a failure, not a skip.
const describeSkopeo = hasSkopeo || process.env.CI ? describe : describe.skip;
const fails = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => {
      throw new Error('skopeo succeeded where it must not');
    },
    (e: { stderr?: string }) => e.stderr ?? String(e),
  );

describeSkopeo('skopeo through the token flow', () => {
  let server: AuthServer;
  let host: string;
  let layout: { dir: string; index: string };
  const cleanup: string[] = [];

  beforeAll(async () => {
    server = await startWithConfig(clientConfig(['apps/**', 'public/**'], [{ anonymous: true, repositories: ['public/**'], actions: ['pull'] }]));
    host = new URL(server.url).host;
    layout = await makeImageLayout('v1', [20_000]);
    cleanup.push(layout.dir);
  });
  afterAll(async () => {
    await server?.stop();
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  it('pushes with --dest-creds, pulls with --src-creds, and copies across repositories (mount with from)', async () => {
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'pusher:push-pw', `oci:${layout.dir}:v1`, `docker://${host}/apps/web:v1`);
    const { stdout } = await skopeo('inspect', '--raw', '--tls-verify=false', '--creds', 'reader:read-pw', `docker://${host}/apps/web:v1`);
    expect((JSON.parse(stdout) as { manifests: unknown[] }).manifests).toHaveLength(2);
    const back = await mkdtemp(join(tmpdir(), 'berth-back-'));
    cleanup.push(back);
    await skopeo('copy', '--all', '--src-tls-verify=false', '--src-creds', 'reader:read-pw', `docker://${host}/apps/web:v1`, `oci:${back}:v1`);
    await skopeo('copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'pusher:push-pw', '--dest-creds', 'pusher:push-pw', `docker://${host}/apps/web:v1`, `docker://${host}/public/web:v1`);
  });

  it('a pull-only user cannot push', async () => {
    const stderr = await fails(skopeo('copy', '--all', '--dest-tls-verify=false', '--dest-creds', 'reader:read-pw', `oci:${layout.dir}:v1`, `docker://${host}/apps/reader:v1`));
    expect(stderr).toMatch(/unauthorized|denied|authentication required|insufficient/i);
  });

  it('wrong credentials are refused', async () => {
    const stderr = await fails(skopeo('inspect', '--raw', '--tls-verify=false', '--creds', 'reader:wrong', `docker://${host}/apps/web:v1`));
    expect(stderr).toMatch(/unauthorized|incorrect|invalid/i);
  });

  it('anonymous pull works only where allowed', async () => {
    const { stdout } = await skopeo('inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${host}/public/web:v1`);
    expect((JSON.parse(stdout) as { manifests: unknown[] }).manifests).toHaveLength(2);
    const stderr = await fails(skopeo('inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${host}/apps/web:v1`));
    expect(stderr).toMatch(/unauthorized|denied|authentication required|insufficient/i);
  });
});
