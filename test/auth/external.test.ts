/** Tokens from external issuers on a running berth: a JWKS served over HTTP and a PEM certificate. */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, errorCodeOf, parseChallenge, pushImage, send, startWithConfig, type AuthServer } from '../support/auth.ts';
import { claims, makeKey, type TestKey } from '../support/tokens.ts';

let server: AuthServer;
let jwksServer: Server;
let idp: TestKey;
let certKey: TestKey;
let jwksRequests = 0;
const access = [{ type: 'repository', name: 'ci/app', actions: ['pull', 'push'] }];

beforeAll(async () => {
  idp = await makeKey('RS256');
  certKey = await makeKey('ES256');
  jwksServer = createServer((req, res) => {
    jwksRequests++;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: [idp.publicJwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  const work = await mkdtemp(join(tmpdir(), 'berth-cert-'));
  await writeFile(join(work, 'key.pem'), certKey.pem);
  execFileSync('openssl', ['req', '-new', '-x509', '-key', join(work, 'key.pem'), '-subj', '/CN=legacy-auth', '-days', '2', '-out', join(work, 'cert.pem')]);
  const cert = await readFile(join(work, 'cert.pem'), 'utf8');
  await rm(work, { recursive: true, force: true });
  server = await startWithConfig(
    (dir: string) => ({
      auth: {
        mode: 'token',
        token: {
          service: 'registry.test',
          issuers: [
            { issuer: 'https://idp.test', jwks: jwksUrl, algorithms: ['RS256'] },
            { issuer: 'legacy-auth', certificates: [join(dir, 'bundle.pem')], algorithms: ['ES256'], audience: 'legacy-registry' },
          ],
        },
      },
    }),
    { files: { 'bundle.pem': cert } },
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await new Promise((r) => jwksServer?.close(r));
});

const idpClaims = (over = {}) => claims(access, { iss: 'https://idp.test', aud: 'registry.test', sub: 'ci-bot', ...over });

describe('external issuers', () => {
  it('a token from the JWKS issuer pushes and pulls what its access claim grants', async () => {
    const token = await idp.sign(idpClaims());
    await pushImage(server.url, 'ci/app', 'v1', bearer(token));
    expect((await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(token))).status).toBe(200);
    expect(jwksRequests).toBeGreaterThan(0);
    // The challenge names berth's service.
    const res = await send(server.url, 'GET', '/v2/ci/other/tags/list', bearer(token));
    expect(res.status).toBe(401);
    expect(parseChallenge(res.headers.get('www-authenticate')).params).toMatchObject({ service: 'registry.test', error: 'insufficient_scope' });
  });

  it('refuses its tokens with the wrong audience, a key not in its JWKS, or another algorithm', async () => {
    const bad = [
      await idp.sign(idpClaims({ aud: 'berth' })),
      await (await makeKey('RS256')).sign(idpClaims()),
      await certKey.sign(idpClaims()),
    ];
    for (const token of bad) {
      const res = await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(token));
      expect(res.status).toBe(401);
      expect(parseChallenge(res.headers.get('www-authenticate')).params.error).toBe('invalid_token');
      expect(await errorCodeOf(res)).toBe('UNAUTHORIZED');
    }
  });

  it('a certificate issuer: its own audience, any kid', async () => {
    const ok = await certKey.sign(claims(access, { iss: 'legacy-auth', aud: 'legacy-registry' }), { kid: 'ABCD:EFGH:libtrust-style' });
    expect((await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(ok))).status).toBe(200);
    const wrongAud = await certKey.sign(claims(access, { iss: 'legacy-auth', aud: 'registry.test' }));
    expect((await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(wrongAud))).status).toBe(401);
    const otherKey = await idp.sign(claims(access, { iss: 'legacy-auth', aud: 'legacy-registry' }));
    expect((await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(otherKey))).status).toBe(401);
  });

  it('berth\'s own token service still works beside them (anonymous here: no rules, no access)', async () => {
    const res = await fetch(`${server.url}/token?service=registry.test&scope=repository:ci/app:pull`);
    const { token } = (await res.json()) as { token: string };
    expect((await send(server.url, 'GET', '/v2/', bearer(token))).status).toBe(200);
    expect((await send(server.url, 'GET', '/v2/ci/app/tags/list', bearer(token))).status).toBe(401);
  });
});
