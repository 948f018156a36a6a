/**
 * The mirror in front of another berth that requires Docker token auth: the mirror does the token
 * dance with its own credentials (the upstream's `reader`), and a private repository the upstream
 * does not let that reader see stays unknown through the mirror.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, clientUsers, getToken, pushImage, startWithConfig, type AuthServer } from '../support/auth.ts';
import { fetchDigest, writeConfig } from '../support/mirror.ts';
import { startServer, type TestServer } from '../support/server.ts';

const accept = 'application/vnd.oci.image.manifest.v1+json';

describe('mirror of a berth with token auth', () => {
  let upstream: AuthServer;
  let mirror: TestServer;
  let image: { manifest: string; layer: string };

  beforeAll(async () => {
    upstream = await startWithConfig(clientConfig(['shared/**'], [{ users: ['pusher'], repositories: ['private/**'], actions: ['push'] }]));
    const { body } = await getToken(upstream.url, {
      user: 'pusher',
      password: clientUsers.pusher,
      scopes: ['repository:shared/app:pull,push', 'repository:private/app:pull,push'],
    });
    const bearer = `Bearer ${body.token}`;
    image = await pushImage(upstream.url, 'shared/app', 'v1', bearer);
    await pushImage(upstream.url, 'private/app', 'v1', bearer);
    const config = await writeConfig(
      ['mirror:', '  upstreams:', `    - { name: up, url: "${upstream.url}", prefix: up, username: reader, password: ${clientUsers.reader} }`, ''].join('\n'),
    );
    mirror = await startServer({ args: ['--config', config] });
  });
  afterAll(async () => {
    await mirror?.stop();
    await upstream?.stop();
  });

  it('pulls through the token dance with the mirror’s own credentials', async () => {
    expect((await fetchDigest(`${mirror.url}/v2/up/shared/app/manifests/v1`, { Accept: accept })).digest).toBe(image.manifest);
    expect((await fetchDigest(`${mirror.url}/v2/up/shared/app/blobs/${image.layer}`)).digest).toBe(image.layer);
    // The upstream saw a token request from the mirror's user, never an anonymous pull of shared/app.
    expect(upstream.logs()).toContain('"user":"reader"');
  });

  it('keeps what the upstream refuses the mirror’s user unknown', async () => {
    const res = await fetch(`${mirror.url}/v2/up/private/app/manifests/v1`, { headers: { Accept: accept } });
    expect(res.status).toBe(404);
  });
});
