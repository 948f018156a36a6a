/** Basic mode on a running berth: htpasswd users, Basic challenges, 403 DENIED, throttling. */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, errorCodeOf, hashPassword, parseChallenge, pushBlob, pushImage, send, startWithConfig, type AuthServer } from '../support/auth.ts';

const pw = { alice: 'alice-pw-Basic', bob: 'bob-pw-Basic', carol: 'carol-pw-Basic', dave: 'dave-pw-Basic' };
let server: AuthServer;
let url: string;
const alice = (): string => basic('alice', pw.alice);
const bob = (): string => basic('bob', pw.bob);

beforeAll(async () => {
  // htpasswd -B writes $2y$; bcryptjs writes $2b$ (the same algorithm).
  const htpasswd = `# users\nalice:${hashPassword(pw.alice).replace(/^\$2b\$/, '$2y$')}\nbob:${hashPassword(pw.bob)}\nlegacy:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`;
  server = await startWithConfig(
    (dir: string) => ({
      auth: {
        mode: 'basic',
        htpasswd: join(dir, 'htpasswd'),
        users: { carol: { password: hashPassword(pw.carol) } },
        basic: { realm: 'berth test' },
        rules: [
          { anonymous: true, repositories: ['public/*'], actions: ['pull'] },
          { anonymous: true, repositories: ['drop/*'], actions: ['push'] },
          { users: ['alice'], repositories: ['**'], actions: ['pull', 'push', 'delete'], catalog: true },
          { users: ['bob', 'carol', 'dave'], repositories: ['team/*'], actions: ['pull'] },
          { users: ['bob'], catalog: true },
          { users: ['carol'], repositories: ['carol/*'], actions: ['push'] },
        ],
        throttle: { attempts: 2, addressAttempts: 6, delay: 1, maxDelay: 2 },
      },
    }),
    { files: { htpasswd } },
  );
  url = server.url;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('basic mode', () => {
  it('challenges with Basic; the envelope and API version header are there', async () => {
    const res = await send(url, 'GET', '/v2/');
    expect(res.status).toBe(401);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(parseChallenge(res.headers.get('www-authenticate'))).toMatchObject({ scheme: 'Basic', params: { realm: 'berth test' } });
    expect(await errorCodeOf(res)).toBe('UNAUTHORIZED');
    expect((await send(url, 'GET', '/v2/', alice())).status).toBe(200);
    // A config user and an htpasswd user ($2y$ and $2b$) all log in.
    expect((await send(url, 'GET', '/v2/', basic('carol', pw.carol))).status).toBe(200);
    expect((await send(url, 'GET', '/v2/', bob())).status).toBe(200);
  });

  it('checks passwords on the bcrypt thread, also from the bundled command on Node', async () => {
    // The thread's file sits next to the module that starts it (rolldown.config.ts); were it missing,
    // berth would fall back to the main thread with this warning, and every sign-in would still work.
    expect((await send(url, 'GET', '/v2/', alice())).status).toBe(200);
    expect(server.logs()).not.toContain('no bcrypt thread');
  });

  it('bad credentials, a Bearer token, and non-bcrypt entries get 401', async () => {
    for (const authorization of [basic('alice', 'nope'), basic('nobody', 'x'), 'Bearer abc.def.ghi', 'Basic !!!', basic('legacy', 'password')]) {
      const res = await send(url, 'GET', '/v2/', authorization);
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
  });

  it('a known user without the right gets 403 DENIED; anonymous gets the challenge', async () => {
    await pushImage(url, 'team/app', 'v1', alice());
    await pushImage(url, 'public/app', 'v1', alice());
    expect((await send(url, 'GET', '/v2/team/app/manifests/v1', bob())).status).toBe(200);
    const push = await pushBlob(url, 'team/app', Buffer.from('bob was here'), bob());
    expect(push.res.status).toBe(403);
    expect(await errorCodeOf(await send(url, 'DELETE', '/v2/team/app/manifests/v1', bob()))).toBe('DENIED');
    const anonPush = await send(url, 'POST', '/v2/public/app/blobs/uploads/');
    expect(anonPush.status).toBe(401);
    expect(anonPush.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await send(url, 'GET', '/v2/team/app/manifests/v1')).status).toBe(401);
  });

  it('anonymous pull works where allowed, for everyone', async () => {
    expect((await send(url, 'GET', '/v2/public/app/manifests/v1')).status).toBe(200);
    expect((await send(url, 'GET', '/v2/public/app/tags/list', basic('carol', pw.carol))).status).toBe(200);
  });

  it('the catalog lists only what the caller may pull; without the catalog right, 403', async () => {
    await pushImage(url, 'secret/app', 'v1', alice());
    const list = async (authorization: string): Promise<string[]> =>
      ((await (await send(url, 'GET', '/v2/_catalog', authorization)).json()) as { repositories: string[] }).repositories;
    expect(await list(alice())).toEqual(['public/app', 'secret/app', 'team/app']);
    expect(await list(bob())).toEqual(['public/app', 'team/app']);
    expect((await send(url, 'GET', '/v2/_catalog', basic('carol', pw.carol))).status).toBe(403);
  });

  it('a mount of a blob the caller cannot pull is a fresh upload, with or without from', async () => {
    const secret = await pushBlob(url, 'secret/app', Buffer.from(`secret ${Math.random()}`), alice());
    const carol = basic('carol', pw.carol);
    const blind = await send(url, 'POST', `/v2/carol/x/blobs/uploads/?mount=${secret.digest}`, carol);
    expect(blind.status).toBe(202);
    const named = await send(url, 'POST', `/v2/carol/x/blobs/uploads/?mount=${secret.digest}&from=secret/app`, carol);
    expect(named.status).toBe(202);
    expect((await send(url, 'HEAD', `/v2/carol/x/blobs/${secret.digest}`, carol)).status).toBe(404);
  });

  it('an anonymous mount (where anonymous may push) cannot reveal a blob either', async () => {
    const secret = await pushBlob(url, 'secret/app', Buffer.from(`secret ${Math.random()}`), alice());
    const blind = await send(url, 'POST', `/v2/drop/box/blobs/uploads/?mount=${secret.digest}`);
    expect(blind.status).toBe(202);
    const named = await send(url, 'POST', `/v2/drop/box/blobs/uploads/?mount=${secret.digest}&from=secret/app`);
    expect(named.status).toBe(202);
    expect((await send(url, 'HEAD', `/v2/drop/box/blobs/${secret.digest}`)).status).toBe(404);
    // A blob the anonymous caller may pull does mount, with `from`.
    const open = await pushBlob(url, 'drop/a', Buffer.from(`open ${Math.random()}`));
    expect(open.res.status).toBe(201);
    expect((await send(url, 'POST', `/v2/drop/b/blobs/uploads/?mount=${open.digest}&from=drop/a`)).status).toBe(201);
  });

  it('re-reads the htpasswd file when it changes', async () => {
    expect((await send(url, 'GET', '/v2/team/app/tags/list', basic('dave', pw.dave))).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1100)); // a different mtime
    await appendFile(join(server.configDir, 'htpasswd'), `dave:${hashPassword(pw.dave)}\n`);
    await new Promise((r) => setTimeout(r, 2100)); // the file is looked at every 2 s
    expect((await send(url, 'GET', '/v2/team/app/tags/list', basic('dave', pw.dave))).status).toBe(200);
  });
});

describe('throttling', () => {
  it('per user, then per address: 429 TOOMANYREQUESTS with Retry-After, even for the right password; it passes', async () => {
    // Two failures lock bob (attempts: 2) ...
    for (let i = 0; i < 2; i++) expect((await send(url, 'GET', '/v2/', basic('bob', `guess${i}`))).status).toBe(401);
    const locked = await send(url, 'GET', '/v2/', bob());
    expect(locked.status).toBe(429);
    expect(await errorCodeOf(locked)).toBe('TOOMANYREQUESTS');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await send(url, 'GET', '/v2/', alice())).status).toBe(200);
    // ... and spraying other names from this address locks the address (addressAttempts: 6).
    for (const name of ['eve1', 'eve2', 'eve3', 'eve4']) await send(url, 'GET', '/v2/', basic(name, 'x'));
    const everyone = await send(url, 'GET', '/v2/', alice());
    expect(everyone.status).toBe(429);
    // The wait is bounded (maxDelay: 2 s); afterwards the right password works again.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await send(url, 'GET', '/v2/', alice())).status).toBe(200);
    expect(server.logs()).toMatch(/"msg":"login throttled".*"address":"(127\.0\.0\.1|::ffff:127\.0\.0\.1)"/);
  });

  it('no password reaches the log', () => {
    const logs = server.logs();
    for (const p of Object.values(pw)) expect(logs).not.toContain(p);
    expect(logs).not.toContain('guess0');
  });

  it('there is no token service in basic mode', async () => {
    expect((await fetch(`${url}/token?service=berth`)).status).toBe(404);
  });
});
