/**
 * The request log's fields where they used to be wrong (issue 13): bytes out for the routes
 * outside /v2/, route and repository for requests access control refuses, the user of a /token
 * login, one line without a stack for an upstream that is down, and nothing but JSON lines on
 * stderr with S3 storage (the AWS SDK's multi-line notice on Node 20).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, getToken, hashPassword, send, startWithConfig, type AuthServer } from '../support/auth.ts';
import { freePort } from '../support/net.ts';
import { s3Available, createBucket, startS3, startS3Server } from '../support/s3.ts';

type Line = Record<string, unknown>;

const lines = (logs: string): Line[] =>
  logs
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);

/** The request log lines for `path`, waiting briefly: a line is written once the response is. */
async function requestLines(server: { logs(): string }, path: string, count = 1): Promise<Line[]> {
  for (let i = 0; i < 50; i++) {
    const found = lines(server.logs()).filter((l) => l.msg === 'request' && l.path === path);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no request line for ${path} in:\n${server.logs()}`);
}

describe('request log fields', () => {
  let server: AuthServer;
  const pw = 'alice-log-pw';

  beforeAll(async () => {
    server = await startWithConfig({
      auth: {
        mode: 'token',
        users: { alice: { password: hashPassword(pw) } },
        rules: [{ users: ['alice'], repositories: ['team/**'], actions: ['push'] }],
      },
      metrics: { public: true },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('counts the bytes of /token, /healthz, /readyz, /metrics and the JWKS', async () => {
    const token = await fetch(`${server.url}/token?service=berth&scope=repository:team/app:pull`, {
      headers: { Authorization: `Basic ${Buffer.from(`alice:${pw}`).toString('base64')}` },
    });
    const sizes = new Map<string, number>([['/token', (await token.arrayBuffer()).byteLength]]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/token/jwks.json']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      sizes.set(path, (await res.arrayBuffer()).byteLength);
    }
    for (const [path, size] of sizes) {
      expect(size, path).toBeGreaterThan(0);
      const [line] = await requestLines(server, path);
      expect(line?.bytesOut, path).toBe(size);
    }
  });

  it('names the user of a /token login, and of a request refused for its scope', async () => {
    const token = await getToken(server.url, { user: 'alice', password: pw, scopes: ['repository:team/a:pull'] });
    expect(token.status).toBe(200);
    const [login] = (await requestLines(server, '/token')).filter((l) => l.status === 200).slice(-1);
    expect(login).toMatchObject({ status: 200, user: 'alice' });
    // Her token does not cover team/b: refused, and still hers in the log.
    expect((await send(server.url, 'GET', '/v2/team/b/tags/list', bearer(token.body.token))).status).toBe(401);
    const [refused] = await requestLines(server, '/v2/team/b/tags/list');
    expect(refused).toMatchObject({ status: 401, user: 'alice', repository: 'team/b', route: '/v2/<name>/tags/list' });
  });

  it('gives a request refused by access control its route, repository and bytes', async () => {
    const res = await send(server.url, 'PUT', '/v2/team/app/manifests/v1', undefined, { body: '{}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(res.status).toBe(401);
    const size = (await res.arrayBuffer()).byteLength;
    const [line] = await requestLines(server, '/v2/team/app/manifests/v1');
    expect(line).toMatchObject({ method: 'PUT', status: 401, route: '/v2/<name>/manifests/<reference>', repository: 'team/app', bytesOut: size });
    expect(line?.user).toBeUndefined();
  });
});

describe('an upstream that is down', () => {
  let server: AuthServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = await startWithConfig({ mirror: { upstreams: [{ name: 'gone', url: `http://127.0.0.1:${port}`, prefix: 'gone' }] } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('logs one line per failed request with the reason and no stack; the client learns what, not where', async () => {
    const paths = ['/v2/gone/app/manifests/latest', `/v2/gone/app/blobs/sha256:${'c'.repeat(64)}`];
    for (const path of paths) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(503);
      const body = await res.text();
      expect(body).toContain('UNAVAILABLE');
      expect(body).toContain('upstream gone is unavailable: connection refused');
      expect(body).not.toContain(String(port));
      expect(body).not.toContain('127.0.0.1');
    }
    await requestLines(server, paths[1]!);
    const failures = lines(server.logs()).filter((l) => l.level === 'error');
    expect(failures.map((l) => l.path)).toEqual(paths);
    for (const line of failures) {
      expect(line).toMatchObject({ msg: 'request failed', code: 'UNAVAILABLE', error: 'upstream gone is unavailable: connection refused' });
      expect(String(line.cause)).toMatch(/ECONNREFUSED/);
      expect(line.stack).toBeUndefined();
    }
  });
});

describe.skipIf(!s3Available)('the log on S3 storage', () => {
  it('is JSON lines and nothing else (no SDK notice on stderr)', async () => {
    const s3 = await startS3();
    try {
      const server = await startS3Server(s3, await createBucket(s3, 'log'));
      try {
        expect((await fetch(`${server.url}/v2/x/manifests/latest`)).status).toBe(404);
        await requestLines(server, '/v2/x/manifests/latest');
      } finally {
        await server.stop();
      }
      const text = server.logs().split('\n').filter((l) => l.trim() !== '');
      expect(text.filter((l) => !l.startsWith('{'))).toEqual([]);
    } finally {
      await s3.stop();
    }
  });
});
