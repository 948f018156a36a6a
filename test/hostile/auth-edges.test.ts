/**
 * Access control at its edges (issue 12): an upload session belongs to whoever opened it, /metrics
 * is not public once access control is on unless the configuration says so, and mounts link only
 * from repositories the caller may pull — ignoring a `from` they may not pull (containerd asks for
 * that) and finding a source themselves when there is no `from`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, bearer, errorCodeOf, getToken, hashPassword, pushBlob, send, startWithConfig, type AuthServer } from '../support/auth.ts';

const pw = { alice: 'alice-edges-pw', bob: 'bob-edges-pw' };
let token: AuthServer;

const tokenFor = async (user: keyof typeof pw | undefined, ...scopes: string[]): Promise<string> => {
  const res = await getToken(token.url, user === undefined ? { scopes } : { user, password: pw[user], scopes });
  expect(res.status).toBe(200);
  return bearer(res.body.token);
};

const users = { alice: { password: hashPassword(pw.alice) }, bob: { password: hashPassword(pw.bob) } };

beforeAll(async () => {
  token = await startWithConfig({
    auth: {
      mode: 'token',
      users,
      rules: [
        { users: ['alice', 'bob'], repositories: ['team/**'], actions: ['push'] },
        { users: ['alice'], repositories: ['secret/**'], actions: ['push'] },
        { anonymous: true, repositories: ['drop/**'], actions: ['push'] },
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  await token?.stop();
});

describe('an upload session belongs to the principal that opened it', () => {
  it('another user with push on the repository gets BLOB_UPLOAD_UNKNOWN for every verb; the owner finishes', async () => {
    const alice = await tokenFor('alice', 'repository:team/shared:pull,push');
    const bob = await tokenFor('bob', 'repository:team/shared:pull,push');
    const started = await send(token.url, 'POST', '/v2/team/shared/blobs/uploads/', alice);
    expect(started.status).toBe(202);
    const location = started.headers.get('location') ?? '';
    expect(location).toMatch(/^\/v2\/team\/shared\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const bytes = randomBytes(4096);
    const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')}`;
    const chunk = { body: bytes, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${bytes.length - 1}` } };

    // Bob knows the id and may push here; the session still does not exist for him.
    const theirs = [
      await send(token.url, 'GET', location, bob),
      await send(token.url, 'PATCH', location, bob, chunk),
      await send(token.url, 'PUT', `${location}?digest=${digest}`, bob, { body: bytes }),
      await send(token.url, 'DELETE', location, bob),
    ];
    for (const res of theirs) {
      expect(res.status).toBe(404);
      expect(await errorCodeOf(res)).toBe('BLOB_UPLOAD_UNKNOWN');
    }
    // Nothing of bob's reached it: alice's session is empty and whole.
    const status = await send(token.url, 'GET', location, alice);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-0');
    expect((await send(token.url, 'PATCH', location, alice, chunk)).status).toBe(202);
    const done = await send(token.url, 'PUT', `${location}?digest=${digest}`, alice);
    expect(done.status).toBe(201);
    expect((await send(token.url, 'HEAD', `/v2/team/shared/blobs/${digest}`, bob)).status).toBe(200);
  });

  it('an anonymous session is not a signed-in user\'s to write, and the other way round', async () => {
    const anonymous = await tokenFor(undefined, 'repository:drop/box:pull,push');
    const alice = await tokenFor('alice', 'repository:drop/box:pull,push');
    const anonSession = (await send(token.url, 'POST', '/v2/drop/box/blobs/uploads/', anonymous)).headers.get('location') ?? '';
    const aliceSession = (await send(token.url, 'POST', '/v2/drop/box/blobs/uploads/', alice)).headers.get('location') ?? '';
    expect(anonSession).not.toBe('');
    expect(aliceSession).not.toBe('');
    const body = { body: randomBytes(10), headers: { 'Content-Type': 'application/octet-stream' } };
    expect((await send(token.url, 'PATCH', anonSession, alice, body)).status).toBe(404);
    expect((await send(token.url, 'PATCH', aliceSession, anonymous, body)).status).toBe(404);
    expect((await send(token.url, 'PATCH', anonSession, anonymous, body)).status).toBe(202);
    expect((await send(token.url, 'PATCH', aliceSession, alice, body)).status).toBe(202);
  });
});

describe('mounts link only from repositories the caller may pull', () => {
  it('a mount from a repository the caller may not pull is a fresh upload (202), which completes — containerd\'s push', async () => {
    const alice = await tokenFor('alice', 'repository:secret/app:pull,push');
    const bytes = randomBytes(3000);
    const secret = await pushBlob(token.url, 'secret/app', bytes, alice);
    expect(secret.res.status).toBe(201);
    // What containerd asks for: push on the target and pull on a repository it may not pull.
    const bob = await tokenFor('bob', 'repository:team/bob:pull,push', 'repository:secret/app:pull');
    const mount = await send(token.url, 'POST', `/v2/team/bob/blobs/uploads/?mount=${secret.digest}&from=secret/app`, bob);
    expect(mount.status).toBe(202);
    // Not linked: bob has to upload the bytes himself, and can.
    expect((await send(token.url, 'HEAD', `/v2/team/bob/blobs/${secret.digest}`, bob)).status).toBe(404);
    const put = await send(token.url, 'PUT', `${mount.headers.get('location')}?digest=${secret.digest}`, bob, {
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);
    expect((await send(token.url, 'HEAD', `/v2/team/bob/blobs/${secret.digest}`, bob)).status).toBe(200);
    // The source stays closed to him.
    expect((await send(token.url, 'HEAD', `/v2/secret/app/blobs/${secret.digest}`, bob)).status).toBe(401);
  });

  it('a mount without from links a blob from a repository the caller may pull (201), and never from one they may not', async () => {
    const alice = await tokenFor('alice', 'repository:team/a:pull,push', 'repository:secret/b:pull,push');
    const shared = await pushBlob(token.url, 'team/a', randomBytes(2500), alice);
    const hidden = await pushBlob(token.url, 'secret/b', randomBytes(2500), alice);
    expect([shared.res.status, hidden.res.status]).toEqual([201, 201]);
    const bob = await tokenFor('bob', 'repository:team/c:pull,push');

    const mounted = await send(token.url, 'POST', `/v2/team/c/blobs/uploads/?mount=${shared.digest}`, bob);
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/team/c/blobs/${shared.digest}`);
    expect(mounted.headers.get('docker-content-digest')).toBe(shared.digest);
    const pulled = await send(token.url, 'GET', `/v2/team/c/blobs/${shared.digest}`, bob);
    expect(pulled.status).toBe(200);
    expect((await pulled.arrayBuffer()).byteLength).toBe(2500);

    const refused = await send(token.url, 'POST', `/v2/team/c/blobs/uploads/?mount=${hidden.digest}`, bob);
    expect(refused.status).toBe(202);
    expect(refused.headers.get('location')).toMatch(/^\/v2\/team\/c\/blobs\/uploads\//);
    expect((await send(token.url, 'HEAD', `/v2/team/c/blobs/${hidden.digest}`, bob)).status).toBe(404);
  });
});

describe('/metrics with access control on', () => {
  it('is not public by default: 403 for anyone, a registry token included', async () => {
    for (const authorization of [undefined, await tokenFor('alice', 'repository:team/x:pull')]) {
      const res = await send(token.url, 'GET', '/metrics', authorization);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toMatch(/berth_/);
    }
  });

  it('is public when the configuration says so (metrics.public), and open by default without access control', async () => {
    const open = await startWithConfig({ auth: { mode: 'basic', users, rules: [] }, metrics: { public: true } });
    const none = await startWithConfig({});
    try {
      for (const server of [open, none]) {
        const res = await send(server.url, 'GET', '/metrics');
        expect(res.status).toBe(200);
        expect(await res.text()).toMatch(/^# TYPE berth_http_requests_total counter$/m);
      }
      // Opening metrics does not open the registry.
      expect((await send(open.url, 'GET', '/v2/')).status).toBe(401);
      expect((await send(open.url, 'GET', '/v2/', basic('alice', pw.alice))).status).toBe(200);
    } finally {
      await Promise.all([open.stop(), none.stop()]);
    }
  });

  it('with metrics.token, the token is what opens it', async () => {
    const secret = 'edges-metrics-token-0123456789';
    const server = await startWithConfig({ auth: { mode: 'basic', users, rules: [] }, metrics: { token: secret } });
    try {
      expect((await send(server.url, 'GET', '/metrics')).status).toBe(401);
      expect((await send(server.url, 'GET', '/metrics', basic('alice', pw.alice))).status).toBe(401);
      expect((await send(server.url, 'GET', '/metrics', bearer(secret))).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
