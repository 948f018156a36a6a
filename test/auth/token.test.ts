/**
 * Token mode on a running berth: challenges, the token dance by hand, rules, catalog filtering,
 * mount safety, refresh tokens, throttling, and hostile tokens refused with the right envelope.
 */
import { createPublicKey } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  claimsOf,
  errorCodeOf,
  getToken,
  hashPassword,
  parseChallenge,
  pushBlob,
  pushImage,
  send,
  startWithConfig,
  type AuthServer,
} from '../support/auth.ts';
import { claims, hmacToken, makeKey, tamper, unsignedToken, type TestKey } from '../support/tokens.ts';

const passwords = { alice: 'alice-Secret-1', bob: 'bob-Secret-2', carol: 'carol-Secret-3', trudy: 'trudy-Secret-4' };
let server: AuthServer;
let url: string;
let key: TestKey;
const issued: string[] = [];

async function tokenFor(user: keyof typeof passwords | undefined, ...scopes: string[]): Promise<string> {
  const r = await getToken(url, { ...(user ? { user, password: passwords[user] } : {}), scopes });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  issued.push(r.body.token);
  return r.body.token;
}

beforeAll(async () => {
  key = await makeKey();
  server = await startWithConfig(
    (dir: string) => ({
      auth: {
        mode: 'token',
        users: Object.fromEntries(Object.entries(passwords).map(([u, p]) => [u, { password: hashPassword(p) }])),
        groups: { dev: ['bob'] },
        rules: [
          { anonymous: true, repositories: ['public/**'], actions: ['pull'] },
          { users: ['alice'], repositories: ['**'], actions: ['pull', 'push', 'delete'], catalog: true },
          { groups: ['dev'], repositories: ['team/**'], actions: ['push'], catalog: true },
          { users: ['carol'], repositories: ['team/**'], actions: ['pull'] },
        ],
        token: { key: join(dir, 'key.pem') },
        // Every test logs in from 127.0.0.1: only the per-user limit is exercised here.
        throttle: { attempts: 3, addressAttempts: 1000, delay: 30 },
      },
    }),
    { files: { 'key.pem': key.pem } },
  );
  url = server.url;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('challenges', () => {
  it('GET /v2/ without a token: 401 UNAUTHORIZED, a Bearer challenge at this host, the API version header', async () => {
    const res = await send(url, 'GET', '/v2/');
    expect(res.status).toBe(401);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(parseChallenge(res.headers.get('www-authenticate'))).toEqual({ scheme: 'Bearer', params: { realm: `${url}/token`, service: 'berth' } });
    expect(await errorCodeOf(res)).toBe('UNAUTHORIZED');
  });

  it('names exactly the scopes the request needs', async () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/v2/team/app/manifests/latest', 'repository:team/app:pull'],
      ['HEAD', '/v2/team/app/manifests/latest', 'repository:team/app:pull'],
      ['PUT', '/v2/team/app/manifests/latest', 'repository:team/app:pull,push'],
      ['DELETE', '/v2/team/app/manifests/latest', 'repository:team/app:delete'],
      ['POST', '/v2/team/app/blobs/uploads/', 'repository:team/app:pull,push'],
      // A mount needs nothing on `from`: the handler links only from what the caller may pull.
      ['POST', `/v2/team/app/blobs/uploads/?mount=sha256:${'1'.repeat(64)}&from=secret/x`, 'repository:team/app:pull,push'],
      ['GET', '/v2/_catalog', 'registry:catalog:*'],
    ];
    for (const [method, path, scope] of cases) {
      const res = await send(url, method, path);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(parseChallenge(res.headers.get('www-authenticate')).params.scope, `${method} ${path}`).toBe(scope);
      if (method !== 'HEAD') expect(await errorCodeOf(res)).toBe('UNAUTHORIZED');
    }
  });

  it('the realm follows X-Forwarded-Proto / X-Forwarded-Host', async () => {
    const res = await send(url, 'GET', '/v2/', undefined, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com' } });
    expect(parseChallenge(res.headers.get('www-authenticate')).params.realm).toBe('https://registry.example.com/token');
  });
});

describe('the token dance by hand', () => {
  it('GET /token with Basic credentials: token, access_token, expires_in, issued_at; claims and kid as published', async () => {
    const r = await getToken(url, { user: 'bob', password: passwords.bob, scopes: ['repository:team/app:pull,push', 'repository:secret/x:pull', 'registry:catalog:*'] });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const { token, access_token, expires_in, issued_at, refresh_token } = r.body;
    expect(access_token).toBe(token);
    expect(expires_in).toBe(300);
    expect(Math.abs(Date.parse(issued_at) - Date.now())).toBeLessThan(60_000);
    expect(refresh_token).toBeUndefined();
    const c = claimsOf(token);
    expect(c).toMatchObject({ iss: 'berth', aud: 'berth', sub: 'bob' });
    expect((c.exp as number) - (c.iat as number)).toBe(300);
    // The intersection: secret/x was asked for and silently left out.
    expect(c.access).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { alg: string; kid: string };
    expect(header).toMatchObject({ alg: 'ES256', kid: key.kid });
    for (const path of ['/token/jwks.json', '/.well-known/jwks.json']) {
      const jwks = (await (await fetch(`${url}${path}`)).json()) as { keys: Array<Record<string, string>> };
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kid: key.kid, alg: 'ES256', use: 'sig', kty: 'EC' });
      expect(jwks.keys[0]).not.toHaveProperty('d');
      expect(await calculateJwkThumbprint(jwks.keys[0] as never)).toBe(key.kid);
    }
  });

  it('follows the challenge: 401 → token for its scope → push and pull an image', async () => {
    const first = await send(url, 'PUT', '/v2/team/app/manifests/v1');
    const { realm, service, scope } = parseChallenge(first.headers.get('www-authenticate')).params;
    const t = new URL(realm ?? '');
    t.searchParams.set('service', service ?? '');
    t.searchParams.set('scope', scope ?? '');
    const res = await fetch(t, { headers: { Authorization: `Basic ${Buffer.from(`bob:${passwords.bob}`).toString('base64')}` } });
    const { token } = (await res.json()) as { token: string };
    const pushed = await pushImage(url, 'team/app', 'v1', bearer(token));
    const got = await send(url, 'GET', `/v2/team/app/manifests/v1`, bearer(token), { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(got.status).toBe(200);
    expect(got.headers.get('docker-content-digest')).toBe(pushed.manifest);
  });

  it('wrong password: 401 UNAUTHORIZED with a Basic challenge; a malformed header too', async () => {
    const r = await getToken(url, { user: 'alice', password: 'wrong' });
    expect(r.status).toBe(401);
    expect(r.body.errors?.[0]?.code).toBe('UNAUTHORIZED');
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic /);
    const res = await fetch(`${url}/token?service=berth`, { headers: { Authorization: 'Basic %%%' } });
    expect(res.status).toBe(401);
  });

  it('POST /token: password grant, offline refresh token, refresh grant; bad grants are OAuth2 errors', async () => {
    const post = (form: Record<string, string>) =>
      fetch(`${url}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    const res = await post({ grant_type: 'password', username: 'carol', password: passwords.carol, service: 'berth', client_id: 'test', access_type: 'offline', scope: 'repository:team/app:pull,push' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token: string; scope: string; expires_in: number };
    issued.push(body.access_token, body.refresh_token);
    expect(body.scope).toBe('repository:team/app:pull');
    expect(claimsOf(body.access_token).access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    expect(typeof body.refresh_token).toBe('string');

    const refreshed = await post({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'berth', client_id: 'test', scope: 'repository:team/app:pull' });
    expect(refreshed.status).toBe(200);
    const again = (await refreshed.json()) as { access_token: string };
    expect(claimsOf(again.access_token)).toMatchObject({ sub: 'carol', access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] });
    expect((await send(url, 'GET', '/v2/team/app/tags/list', bearer(again.access_token))).status).toBe(200);

    // A refresh token is not an access token.
    const misuse = await send(url, 'GET', '/v2/team/app/tags/list', bearer(body.refresh_token));
    expect(misuse.status).toBe(401);
    expect(parseChallenge(misuse.headers.get('www-authenticate')).params.error).toBe('invalid_token');

    const bad = await post({ grant_type: 'password', username: 'carol', password: 'nope', service: 'berth' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_grant');
    const forged = await post({ grant_type: 'refresh_token', refresh_token: tamper(body.refresh_token, (c) => ({ ...c, sub: 'alice' })) });
    expect(((await forged.json()) as { error: string }).error).toBe('invalid_grant');
    const huge = await post({ grant_type: 'password', username: 'carol', password: 'x'.repeat(100_000) });
    expect(huge.status).toBe(400);
    const odd = await post({ grant_type: 'client_credentials' });
    expect(odd.status).toBe(400);
    expect(((await odd.json()) as { error: string }).error).toBe('unsupported_grant_type');
  });

  it('GET /token?offline_token=true gives a refresh token to a user, none to anonymous', async () => {
    const user = await getToken(url, { user: 'carol', password: passwords.carol, offline: true });
    expect(typeof user.body.refresh_token).toBe('string');
    issued.push(user.body.refresh_token ?? '');
    const anon = await getToken(url, { offline: true });
    expect(anon.status).toBe(200);
    expect(anon.body.refresh_token).toBeUndefined();
  });
});

describe('rules through tokens', () => {
  it('anonymous pull works where allowed and nowhere else', async () => {
    await pushImage(url, 'public/app', 'v1', bearer(await tokenFor('alice', 'repository:public/app:pull,push')));
    await pushImage(url, 'secret/x', 'v1', bearer(await tokenFor('alice', 'repository:secret/x:pull,push')));
    const anon = await tokenFor(undefined, 'repository:public/app:pull,push', 'repository:secret/x:pull');
    expect(claimsOf(anon)).toMatchObject({ sub: '', access: [{ type: 'repository', name: 'public/app', actions: ['pull'] }] });
    expect((await send(url, 'GET', '/v2/public/app/manifests/v1', bearer(anon))).status).toBe(200);
    const secret = await send(url, 'GET', '/v2/secret/x/manifests/v1', bearer(anon));
    expect(secret.status).toBe(401);
    expect(parseChallenge(secret.headers.get('www-authenticate')).params).toMatchObject({ error: 'insufficient_scope', scope: 'repository:secret/x:pull' });
    const push = await pushBlob(url, 'public/app', Buffer.from('anonymous push'), bearer(anon));
    expect(push.res.status).toBe(401);
  });

  it('a pull token cannot push or delete; a token for a is worthless on b', async () => {
    const pull = await tokenFor('alice', 'repository:team/app:pull');
    const push = await send(url, 'POST', '/v2/team/app/blobs/uploads/', bearer(pull));
    expect(push.status).toBe(401);
    expect(parseChallenge(push.headers.get('www-authenticate')).params).toMatchObject({ error: 'insufficient_scope', scope: 'repository:team/app:pull,push' });
    expect(await errorCodeOf(push)).toBe('UNAUTHORIZED');
    const put = await send(url, 'PUT', '/v2/team/app/manifests/x', bearer(pull), { body: '{}' });
    expect(put.status).toBe(401);
    const del = await send(url, 'DELETE', '/v2/team/app/manifests/v1', bearer(pull));
    expect(del.status).toBe(401);
    expect(parseChallenge(del.headers.get('www-authenticate')).params).toMatchObject({ error: 'insufficient_scope', scope: 'repository:team/app:delete' });
    const other = await send(url, 'GET', '/v2/secret/x/manifests/v1', bearer(pull));
    expect(other.status).toBe(401);
    expect(await errorCodeOf(other)).toBe('UNAUTHORIZED');
    // The manifest is still there.
    expect((await send(url, 'HEAD', '/v2/team/app/manifests/v1', bearer(pull))).status).toBe(200);
  });

  it('a pull-only user gets a pull token when asking for push, and cannot push with it', async () => {
    const t = await tokenFor('carol', 'repository:team/app:pull,push,delete');
    expect(claimsOf(t).access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    expect((await pushBlob(url, 'team/app', Buffer.from('carol'), bearer(t))).res.status).toBe(401);
  });

  it('/v2/ wants any valid token, even an anonymous one', async () => {
    expect((await send(url, 'GET', '/v2/', bearer(await tokenFor(undefined)))).status).toBe(200);
  });

  it('the catalog lists only what the caller may pull', async () => {
    const list = async (token: string): Promise<string[]> => {
      const res = await send(url, 'GET', '/v2/_catalog', bearer(token));
      expect(res.status).toBe(200);
      return ((await res.json()) as { repositories: string[] }).repositories;
    };
    expect(await list(await tokenFor('alice', 'registry:catalog:*'))).toEqual(expect.arrayContaining(['public/app', 'secret/x', 'team/app']));
    const bobs = await list(await tokenFor('bob', 'registry:catalog:*'));
    expect(bobs).toContain('team/app');
    expect(bobs).toContain('public/app');
    expect(bobs).not.toContain('secret/x');
    // Paging goes over the visible names only.
    const paged = await send(url, 'GET', '/v2/_catalog?n=1', bearer(await tokenFor('bob', 'registry:catalog:*')));
    expect(((await paged.json()) as { repositories: string[] }).repositories).toEqual(['public/app']);
    expect(paged.headers.get('link')).toContain('last=public%2Fapp');
    // No catalog right: no catalog scope in the token, so 401.
    const carol = await tokenFor('carol', 'registry:catalog:*');
    expect(claimsOf(carol).access).toEqual([]);
    expect((await send(url, 'GET', '/v2/_catalog', bearer(carol))).status).toBe(401);
  });

  it('a mount cannot reveal a blob of a repository the caller cannot pull', async () => {
    const alice = await tokenFor('alice', 'repository:secret/x:pull,push');
    const secret = await pushBlob(url, 'secret/x', Buffer.from(`secret layer ${Math.random()}`), bearer(alice));
    expect(secret.res.status).toBe(201);
    const bob = await tokenFor('bob', 'repository:team/bob:pull,push', 'repository:secret/x:pull');
    expect(claimsOf(bob).access).toEqual([{ type: 'repository', name: 'team/bob', actions: ['pull', 'push'] }]);
    // Without `from`: a fresh upload, never the blob.
    const blind = await send(url, 'POST', `/v2/team/bob/blobs/uploads/?mount=${secret.digest}`, bearer(bob));
    expect(blind.status).toBe(202);
    expect(blind.headers.get('location')).toMatch(/\/v2\/team\/bob\/blobs\/uploads\//);
    // With `from`, which bob may not pull: the mount is ignored, a fresh upload too.
    const named = await send(url, 'POST', `/v2/team/bob/blobs/uploads/?mount=${secret.digest}&from=secret/x`, bearer(bob));
    expect(named.status).toBe(202);
    expect(named.headers.get('location')).toMatch(/\/v2\/team\/bob\/blobs\/uploads\//);
    expect((await send(url, 'HEAD', `/v2/team/bob/blobs/${secret.digest}`, bearer(bob))).status).toBe(404);
    // Alice may pull both, so her mount with `from` works.
    const both = await tokenFor('alice', 'repository:team/alice:pull,push', 'repository:secret/x:pull');
    expect((await send(url, 'POST', `/v2/team/alice/blobs/uploads/?mount=${secret.digest}&from=secret/x`, bearer(both))).status).toBe(201);
  });
});

describe('hostile tokens are refused with 401 invalid_token and the UNAUTHORIZED envelope', () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  const access = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }];
  const path = '/v2/team/app/tags/list';
  const cases: Array<[string, () => Promise<string>]> = [
    ['expired', () => key.sign(claims(access, { exp: now() - 3600, iat: now() - 7200, nbf: now() - 7200 }))],
    ['not yet valid', () => key.sign(claims(access, { nbf: now() + 3600 }))],
    ['wrong audience', () => key.sign(claims(access, { aud: 'another-registry' }))],
    ['wrong issuer', () => key.sign(claims(access, { iss: 'https://evil.example' }))],
    ['unknown key', async () => (await makeKey()).sign(claims(access))],
    ['unknown key claiming our kid', async () => (await makeKey()).sign(claims(access), { kid: key.kid })],
    ['tampered payload', async () => tamper(await tokenFor('carol', 'repository:team/app:pull'), (c) => ({ ...c, access }))],
    ['alg none', async () => unsignedToken(claims(access), { kid: key.kid })],
    ['HS256 keyed with the published JWK', async () => {
      const jwks = (await (await fetch(`${url}/token/jwks.json`)).json()) as { keys: unknown[] };
      return hmacToken(JSON.stringify(jwks.keys[0]), claims(access), { kid: key.kid });
    }],
    ['HS256 keyed with the public key PEM', async () => {
      const pem = createPublicKey(key.pem).export({ type: 'spki', format: 'pem' }).toString();
      return hmacToken(pem, claims(access), { kid: key.kid });
    }],
    ['not a JWT', async () => 'definitely-not-a-token'],
  ];

  it('the real key with good claims works (the cases below differ in one thing each)', async () => {
    expect((await send(url, 'GET', path, bearer(await key.sign(claims(access))))).status).toBe(200);
  });

  it.each(cases)('%s', async (_name, make) => {
    const token = await make();
    for (const method of ['GET', 'DELETE']) {
      const res = await send(url, method, method === 'GET' ? path : '/v2/team/app/manifests/v1', bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      expect(challenge.scheme).toBe('Bearer');
      expect(challenge.params.error).toBe('invalid_token');
      expect(await errorCodeOf(res)).toBe('UNAUTHORIZED');
    }
  });
});

describe('safety', () => {
  it('throttles failed logins per user: 429 TOOMANYREQUESTS with Retry-After, even for the right password', async () => {
    for (let i = 0; i < 3; i++) expect((await getToken(url, { user: 'trudy', password: `guess-${i}` })).status).toBe(401);
    const locked = await getToken(url, { user: 'trudy', password: passwords.trudy });
    expect(locked.status).toBe(429);
    expect(locked.body.errors?.[0]?.code).toBe('TOOMANYREQUESTS');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other users are not affected.
    expect((await getToken(url, { user: 'carol', password: passwords.carol })).status).toBe(200);
  });

  it('keeps the signing key file private and writes no credential or token to the log', async () => {
    expect(await readdir(server.dataDir)).not.toContain('_auth'); // a configured key: nothing generated
    const logs = server.logs();
    expect(logs).toContain('login failed');
    for (const p of Object.values(passwords)) expect(logs).not.toContain(p);
    for (const t of issued.filter(Boolean)) expect(logs).not.toContain(t.split('.')[2] ?? t);
    expect(logs).not.toContain(Buffer.from(`alice:${passwords.alice}`).toString('base64'));
    expect(join(server.configDir, 'key.pem')).toBeTruthy();
  });
});
