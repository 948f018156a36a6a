/**
 * containerd's `ctr push` under token auth (issue 13). containerd remembers where it pulled each
 * blob from and asks to mount it from there (`?mount=…&from=team/hello`), with a token request
 * naming pull on that repository, even when the user pushing may not pull it. berth must ignore
 * such a mount and start a fresh upload (202), as the spec allows, so the push goes through.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, getToken, hashPassword, hasTool, send, startWithConfig, type AuthServer } from '../support/auth.ts';
import { containerdAvailable, startContainerd, type Containerd } from '../support/containerd.ts';
import { makeImageLayout } from '../support/oci-layout.ts';
import { skopeo } from '../support/skopeo.ts';

const available = (await containerdAvailable()) && (await hasTool('skopeo'));
// CI installs containerd and skopeo and runs as root; elsewhere the test needs all three.
const describeContainerd = available || process.env.CI ? describe : describe.skip;

const pw = { alice: 'alice-ctr-pw', bob: 'bob-ctr-pw' };

describeContainerd('ctr push under token auth', () => {
  let dir: string;
  let containerd: Containerd;
  let server: AuthServer;
  let host: string;
  let index: string;
  const ctr = (...args: string[]) => containerd.ctr(...args);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ctr-push-'));
    containerd = await startContainerd(dir);
    server = await startWithConfig({
      auth: {
        mode: 'token',
        users: { alice: { password: hashPassword(pw.alice) }, bob: { password: hashPassword(pw.bob) } },
        rules: [
          { users: ['alice'], repositories: ['team/**'], actions: ['push'] },
          { users: ['bob'], repositories: ['bob/**'], actions: ['push'] },
        ],
      },
    });
    host = new URL(server.url).host;
    const layout = await makeImageLayout('v1', [200_000, 30_000]);
    index = layout.index;
    await skopeo('copy', '--all', '--dest-tls-verify=false', '--dest-creds', `alice:${pw.alice}`, `oci:${layout.dir}:v1`, `docker://${host}/team/hello:v1`);
    await rm(layout.dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    containerd?.stop();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pushes an image pulled from a repository the pushing user may not pull', async () => {
    // Alice pulls team/hello: containerd labels every blob with where it came from.
    await ctr('images', 'pull', '--plain-http', '--all-platforms', '--user', `alice:${pw.alice}`, `${host}/team/hello:v1`);
    await ctr('images', 'tag', `${host}/team/hello:v1`, `${host}/bob/hello:v1`);
    // Bob may push bob/** and nothing else: containerd asks to mount from team/hello all the same.
    await ctr('images', 'push', '--plain-http', '--user', `bob:${pw.bob}`, `${host}/bob/hello:v1`);

    const logs = server.logs();
    expect(logs).toMatch(/"method":"POST","path":"\/v2\/bob\/hello\/blobs\/uploads\/","route":"[^"]+","status":202/);
    expect(logs).not.toMatch(/"path":"\/v2\/bob\/hello\/blobs\/uploads\/","route":"[^"]+","status":401[^\n]*"user":"bob"/);
    // What bob pushed is there, whole, for bob; team/hello stays closed to him.
    const token = await getToken(server.url, { user: 'bob', password: pw.bob, scopes: ['repository:bob/hello:pull', 'repository:team/hello:pull'] });
    expect(token.body.scope).toBe('repository:bob/hello:pull');
    const head = await send(server.url, 'HEAD', '/v2/bob/hello/manifests/v1', bearer(token.body.token), {
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(index);
    expect((await send(server.url, 'HEAD', '/v2/team/hello/manifests/v1', bearer(token.body.token))).status).toBe(401);
  });
});
