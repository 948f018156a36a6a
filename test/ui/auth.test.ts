/**
 * The web UI with access control on: signing in with the registry's own users (basic and token
 * mode), the session cookie, what each user sees and may delete, and how sessions end.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, hashPassword, startWithConfig, type AuthServer } from '../support/auth.ts';
import { pushImage, UiClient } from '../support/ui.ts';

const pw = { alice: 'alice-pw-ui', bob: 'bob-pw-ui', carol: 'carol-pw-ui' };
const htpasswd = (alice = pw.alice): string => `alice:${hashPassword(alice)}\nbob:${hashPassword(pw.bob)}\ncarol:${hashPassword(pw.carol)}\n`;
const rules = [
  { anonymous: true, repositories: ['public/**'], actions: ['pull'] },
  { users: ['alice'], repositories: ['**'], actions: ['pull', 'push', 'delete'], catalog: true },
  { users: ['bob'], repositories: ['team/**'], actions: ['pull'], catalog: true },
  { users: ['carol'], repositories: ['team/**'], actions: ['pull'] },
];

let server: AuthServer;
const alice = (): string => basic('alice', pw.alice);

beforeAll(async () => {
  server = await startWithConfig((dir: string) => ({ auth: { mode: 'basic', htpasswd: join(dir, 'htpasswd'), rules, throttle: { attempts: 3, delay: 1, maxDelay: 2 } } }), { files: { htpasswd: htpasswd() } });
  for (const repo of ['team/app', 'public/tool', 'secret/thing']) await pushImage(server.url, repo, { tag: 'v1', auth: alice() });
  await pushImage(server.url, 'team/app', { tag: 'v2', auth: alice() });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const repoLinks = (html: string): string[] => [...html.matchAll(/href="\/ui\/repo\/([^"]+)"/g)].map((m) => m[1]!).sort();

describe('signing in', () => {
  it('shows anonymous visitors what anonymous may pull and sends them to sign in for the rest', async () => {
    const anon = new UiClient(server.url);
    const home = await anon.page('/ui/');
    expect(home.html).toContain('href="/ui/login?next=%2Fui%2F"');
    expect(repoLinks(home.html)).toEqual([]);
    expect((await anon.page('/ui/repo/public/tool')).status).toBe(200);
    const team = await anon.get('/ui/repo/team/app');
    expect(team.status).toBe(303);
    expect(team.headers.get('location')).toBe('/ui/login?next=%2Fui%2Frepo%2Fteam%2Fapp');
    // The same answer for a repository that does not exist: nothing is revealed.
    expect((await anon.get('/ui/repo/team/none')).headers.get('location')).toBe('/ui/login?next=%2Fui%2Frepo%2Fteam%2Fnone');
  });

  it('signs in with the htpasswd users; the cookie is HttpOnly, SameSite, scoped to the UI', async () => {
    const client = new UiClient(server.url);
    const login = await client.page('/ui/login?next=%2Fui%2Frepo%2Fteam%2Fapp');
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.html)?.[1] ?? '';
    const res = await client.request('POST', '/ui/login', { form: { csrf, user: 'alice', password: pw.alice, next: '/ui/repo/team/app' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/repo/team/app');
    const cookie = client.lastSetCookie ?? '';
    expect(cookie).toMatch(/^berth_session=[^;]+; Max-Age=43200; Path=\/ui; HttpOnly; SameSite=Lax$/);
    expect(cookie).not.toContain('Secure');
    const page = await client.page('/ui/');
    expect(page.html).toContain('Signed in as <strong>alice</strong>');
    expect(repoLinks(page.html)).toEqual(['public/tool', 'secret/thing', 'team/app']);
  });

  it('marks the cookie Secure behind TLS', async () => {
    const client = new UiClient(server.url);
    const headers = { 'X-Forwarded-Proto': 'https' };
    const page = await client.get('/ui/login', headers);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    expect(client.lastSetCookie).toContain('; Secure');
    const res = await client.request('POST', '/ui/login', { form: { csrf, user: 'bob', password: pw.bob }, headers: { ...headers, Origin: server.url.replace('http:', 'https:') } });
    expect(res.status).toBe(303);
    expect(client.lastSetCookie).toMatch(/HttpOnly; Secure; SameSite=Lax$/);
  });

  it('refuses wrong passwords with the form again, the name shown as text, and throttles', async () => {
    const client = new UiClient(server.url);
    const csrf = await client.csrf('/ui/login');
    const user = '<img src=x onerror=alert(1)>';
    const wrong = await client.request('POST', '/ui/login', { form: { csrf, user, password: 'nope' } });
    expect(wrong.status).toBe(401);
    const html = await wrong.text();
    expect(html).toContain('Incorrect user name or password.');
    expect(html).toContain('value="&lt;img src=x onerror=alert(1)&gt;"');
    expect(html).not.toContain('<img src=x');
    let last = 0;
    for (let i = 0; i < 4; i++) last = (await client.request('POST', '/ui/login', { form: { csrf, user: 'mallory', password: 'wrong' } })).status;
    expect(last).toBe(429);
  });

  it('refuses a sign-in form without the token or from another site', async () => {
    const client = new UiClient(server.url);
    const csrf = await client.csrf('/ui/login');
    expect((await client.request('POST', '/ui/login', { form: { user: 'alice', password: pw.alice } })).status).toBe(403);
    expect((await client.request('POST', '/ui/login', { form: { csrf, user: 'alice', password: pw.alice }, headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    expect(client.cookie).toBeDefined();
    expect((await client.page('/ui/')).html).not.toContain('Signed in as');
  });

  it('ignores a forged or tampered cookie', async () => {
    const client = new UiClient(server.url);
    await client.signIn('alice', pw.alice);
    const [payload, mac] = (client.cookie ?? '').replace('berth_session=', '').split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), u: 'alice', e: Date.now() + 1e9 })).toString('base64url');
    client.cookie = `berth_session=${forged}.${mac}`;
    expect((await client.page('/ui/')).html).not.toContain('Signed in as');
  });
});

describe('what each user sees and may do', () => {
  it('lists only what the user may pull; without catalog rights, no list at all', async () => {
    const bob = new UiClient(server.url);
    await bob.signIn('bob', pw.bob);
    expect(repoLinks((await bob.page('/ui/')).html)).toEqual(['public/tool', 'team/app']);
    expect((await bob.page('/ui/repo/secret/thing')).status).toBe(404);
    expect((await bob.page('/ui/repo/secret/thing/-/manifest/v1')).status).toBe(404);
    expect((await bob.get('/ui/storage')).status).toBe(200);
    const carol = new UiClient(server.url);
    await carol.signIn('carol', pw.carol);
    const home = (await carol.page('/ui/')).html;
    expect(home).toContain('may not list repositories');
    expect(repoLinks(home)).toEqual([]);
    expect((await carol.page('/ui/repo/team/app')).status).toBe(200);
    expect((await carol.page('/ui/storage')).status).toBe(404);
  });

  it('offers delete only to users who may delete, and refuses the rest even with a valid token', async () => {
    const bob = new UiClient(server.url);
    await bob.signIn('bob', pw.bob);
    expect((await bob.page('/ui/repo/team/app')).html).not.toContain('/-/delete');
    expect((await bob.page('/ui/repo/team/app/-/manifest/v2')).html).not.toContain('/-/delete');
    const confirm = await bob.page('/ui/repo/team/app/-/delete?tag=v2');
    expect(confirm.status).toBe(403);
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.html)?.[1] ?? '';
    expect((await bob.request('POST', '/ui/repo/team/app/-/delete', { form: { tag: 'v2', csrf } })).status).toBe(403);
    expect((await fetch(`${server.url}/v2/team/app/manifests/v2`, { headers: { Authorization: alice() } })).status).toBe(200);

    const a = new UiClient(server.url);
    await a.signIn('alice', pw.alice);
    const page = (await a.page('/ui/repo/team/app')).html;
    expect(page).toContain('href="/ui/repo/team/app/-/delete?tag=v2"');
    const token = /name="csrf" value="([^"]+)"/.exec((await a.page('/ui/repo/team/app/-/delete?tag=v2')).html)?.[1] ?? '';
    expect((await a.request('POST', '/ui/repo/team/app/-/delete', { form: { tag: 'v2', csrf: token } })).status).toBe(303);
    expect((await fetch(`${server.url}/v2/team/app/manifests/v2`, { headers: { Authorization: alice() } })).status).toBe(404);
  });

  it('signs out, and a changed password ends the session', async () => {
    const a = new UiClient(server.url);
    await a.signIn('alice', pw.alice);
    const csrf = await a.csrf('/ui/');
    const out = await a.request('POST', '/ui/logout', { form: { csrf } });
    expect(out.status).toBe(303);
    expect(a.lastSetCookie).toContain('Max-Age=0');
    expect((await a.page('/ui/')).html).not.toContain('Signed in as');

    const b = new UiClient(server.url);
    await b.signIn('alice', pw.alice);
    expect((await b.page('/ui/')).html).toContain('Signed in as');
    await writeFile(join(server.configDir, 'htpasswd'), htpasswd('a-new-password'));
    // The htpasswd file is looked at again at most every 2 s.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await b.page('/ui/')).html).not.toContain('Signed in as');
    await writeFile(join(server.configDir, 'htpasswd'), htpasswd());
  });
});

describe('token mode', () => {
  it('signs in with the same users as the token service', async () => {
    const s = await startWithConfig({ auth: { mode: 'token', users: { dora: { password: hashPassword('dora-pw') } }, rules: [{ users: ['dora'], repositories: ['**'], actions: ['pull'], catalog: true }] } });
    try {
      const client = new UiClient(s.url);
      expect((await client.signIn('dora', 'dora-pw')).status).toBe(303);
      expect((await client.page('/ui/')).html).toContain('Signed in as <strong>dora</strong>');
      expect((await new UiClient(s.url).signIn('dora', 'wrong')).status).toBe(401);
    } finally {
      await s.stop();
    }
  });
});
