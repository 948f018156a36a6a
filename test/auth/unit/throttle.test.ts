import { describe, expect, it } from 'vitest';
import { visiblePage } from '../../../src/registry/paging.ts';
import { basicChallenge, bearerChallenge, externalOrigin } from '../../../src/auth/challenge.ts';
import { parseHtpasswd } from '../../../src/auth/htpasswd.ts';
import { Login, parseBasic } from '../../../src/auth/login.ts';
import type { UserStore } from '../../../src/auth/users.ts';
import { createLogger } from '../../../src/observability/log.ts';
import { parseScopes } from '../../../src/auth/scope.ts';
import { Throttle } from '../../../src/auth/throttle.ts';
import { pageOfNames } from '../../../src/registry/paging.ts';
import { seconds } from '../../../src/config/duration.ts';

describe('Throttle', () => {
  it('lets `attempts` failures through, then doubles the wait, up to maxDelay; quiet forgets', () => {
    let now = 0;
    const t = new Throttle({ attempts: () => 3, delay: seconds(1), maxDelay: seconds(8), now: () => now });
    const k = ['user:a'];
    t.fail(k);
    t.fail(k);
    expect(t.retryAfter(k)).toBe(0);
    t.fail(k); // third failure: wait 1 s
    expect(t.retryAfter(k)).toBe(1);
    now += 1000;
    expect(t.retryAfter(k)).toBe(0);
    t.fail(k);
    expect(t.retryAfter(k)).toBe(2);
    for (let i = 0; i < 10; i++) t.fail(k);
    expect(t.retryAfter(k)).toBe(8);
    now += 8000 + 8000 + 1;
    expect(t.retryAfter(k)).toBe(0);
    t.fail(k); // forgotten: counts from one again
    expect(t.retryAfter(k)).toBe(0);
  });

  it('keys are independent; success clears only the given key; the table is bounded', () => {
    const t = new Throttle({ attempts: (key) => (key.startsWith('addr:') ? 2 : 1), delay: seconds(10), maxDelay: seconds(100), maxEntries: 3 });
    t.fail(['user:a', 'addr:1']);
    expect(t.retryAfter(['user:a'])).toBe(10);
    expect(t.retryAfter(['addr:1'])).toBe(0);
    expect(t.retryAfter(['user:b', 'addr:1'])).toBe(0);
    t.fail(['user:b', 'addr:1']);
    expect(t.retryAfter(['user:c', 'addr:1'])).toBe(10);
    t.succeed('user:a');
    expect(t.retryAfter(['user:a'])).toBe(0);
    for (const u of ['x', 'y', 'z', 'w']) t.fail([`user:${u}`]);
    expect(t.retryAfter(['user:b'])).toBe(0); // evicted, the oldest
    expect(t.retryAfter(['user:w'])).toBe(10);
  });
});

describe('visiblePage', () => {
  const all = Array.from({ length: 2500 }, (_, i) => `r${String(i).padStart(4, '0')}`);
  const fetchPage = async (r: { n?: number; last?: string }) => pageOfNames(all, r);
  const even = (name: string): boolean => Number(name.slice(1)) % 2 === 0;

  it('pages over the visible names only, across the underlying pages', async () => {
    const first = await visiblePage(fetchPage, { n: 3 }, even);
    expect(first).toEqual({ items: ['r0000', 'r0002', 'r0004'], next: 'r0004' });
    const later = await visiblePage(fetchPage, { n: 2, last: 'r1997' }, even);
    expect(later).toEqual({ items: ['r1998', 'r2000'], next: 'r2000' });
    const whole = await visiblePage(fetchPage, {}, even);
    expect(whole.items).toHaveLength(1000);
    const rest = await visiblePage(fetchPage, { last: whole.next as string }, even);
    expect(rest.items).toHaveLength(250);
    expect(rest.next).toBeUndefined();
    expect(await visiblePage(fetchPage, { n: 0 }, even)).toEqual({ items: [] });
    expect(await visiblePage(fetchPage, {}, () => false)).toEqual({ items: [] });
  });
});

describe('challenges', () => {
  it('names the realm, service and scopes, and the error when there is one', () => {
    expect(bearerChallenge('https://r.example/token', 'berth', parseScopes(['repository:a:pull,push', 'repository:b:pull']), 'insufficient_scope')).toBe(
      'Bearer realm="https://r.example/token",service="berth",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"',
    );
    expect(bearerChallenge('http://h/token', 's', [])).toBe('Bearer realm="http://h/token",service="s"');
    expect(basicChallenge('berth')).toBe('Basic realm="berth", charset="UTF-8"');
  });

  it('derives the origin from the request, through a proxy, refusing forged hosts', () => {
    const h = (headers: Record<string, string>) => (name: string) => headers[name.toLowerCase()];
    expect(externalOrigin('http://127.0.0.1:5000/v2/', h({ host: '127.0.0.1:5000' }))).toBe('http://127.0.0.1:5000');
    expect(externalOrigin('http://10.0.0.1/v2/', h({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'registry.example.com, proxy' }))).toBe('https://registry.example.com');
    expect(externalOrigin('http://h:1/v2/', h({ 'x-forwarded-host': 'evil"/,x', 'x-forwarded-proto': 'javascript' }))).toBe('http://h:1');
  });
});

describe('credentials', () => {
  it('parses Basic and refuses malformed', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(parseBasic(`Basic ${b64('alice:pa:ss wörd')}`)).toEqual({ user: 'alice', password: 'pa:ss wörd' });
    expect(parseBasic(undefined)).toBeUndefined();
    expect(parseBasic('Bearer x')).toBeUndefined();
    expect(parseBasic('Basic !!!')).toBe('invalid');
    expect(parseBasic(`Basic ${b64('nocolon')}`)).toBe('invalid');
    expect(parseBasic(`Basic ${b64(':empty-user')}`)).toBe('invalid');
  });

  it('reads bcrypt htpasswd entries and skips the rest without echoing them', () => {
    const hash = `$2y$05$${'a'.repeat(53)}`;
    const { users, skipped } = parseHtpasswd(`# comment\nalice:${hash}\n\nbob:{SHA}abc=\ncarol:$apr1$x$y\nbroken\n`);
    expect([...users.keys()]).toEqual(['alice']);
    expect(skipped.map((s) => s.line)).toEqual([4, 5, 6]);
    expect(JSON.stringify(skipped)).not.toContain('SHA');
  });
});

describe('Login', () => {
  const users = { verify: async (user: string, password: string) => user === 'a' && password === 'right' } as unknown as UserStore;
  const login = () => new Login(users, new Throttle({ attempts: () => 1, delay: seconds(60), maxDelay: seconds(60) }), createLogger('silent'));

  it('locks a user after failures, and the address with it', async () => {
    const l = login();
    expect(await l.check({ user: 'a', password: 'wrong' }, '10.0.0.1')).toEqual({ ok: false });
    expect((await l.check({ user: 'a', password: 'right' }, '10.0.0.2')).ok).toBe(false);
    const other = await l.check({ user: 'b', password: 'x' }, '10.0.0.1');
    expect(other.ok === false && other.throttled?.code).toBe('TOOMANYREQUESTS');
  });

  it('without a known address, one client cannot lock out the others', async () => {
    const l = login();
    await l.check({ user: 'mallory', password: 'x' }, 'unknown');
    expect(await l.check({ user: 'a', password: 'right' }, 'unknown')).toEqual({ ok: true, user: 'a' });
  });
});
