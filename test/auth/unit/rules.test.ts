import { describe, expect, it } from 'vitest';
import { anonymous, globToRegExp, Rules } from '../../../src/auth/rules.ts';
import { authSchema } from '../../../src/auth/schema.ts';
import { parseScopes } from '../../../src/auth/scope.ts';

const config = authSchema.parse({
  mode: 'token',
  groups: { dev: ['bob', 'carol'], admins: ['alice'] },
  rules: [
    { anonymous: true, repositories: ['public/**'], actions: ['pull'] },
    { authenticated: true, repositories: ['shared/*'], actions: ['pull'] },
    { groups: ['dev'], repositories: ['team/**'], actions: ['push'] },
    { users: ['carol'], repositories: ['team/carol-?'], actions: ['delete'] },
    { groups: ['admins'], repositories: ['**'], actions: ['pull', 'push', 'delete'], catalog: true },
    { users: ['bob'], catalog: true },
  ],
});
const rules = new Rules(config.rules, config.groups);
const alice = rules.principal('alice');
const bob = rules.principal('bob');
const carol = rules.principal('carol');
const dave = rules.principal('dave');
const sorted = (s: Set<string>): string[] => [...s].sort();

describe('globToRegExp', () => {
  it('* stays in a component, ** crosses them, ? is one character, the rest is literal', () => {
    expect(globToRegExp('team/*').test('team/a')).toBe(true);
    expect(globToRegExp('team/*').test('team/a/b')).toBe(false);
    expect(globToRegExp('team/**').test('team/a/b')).toBe(true);
    expect(globToRegExp('team/**').test('team')).toBe(false);
    expect(globToRegExp('team/**').test('teams/a')).toBe(false);
    expect(globToRegExp('**').test('any/thing')).toBe(true);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a?c').test('a/c')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('Rules', () => {
  it('anonymous rules apply to everyone; signing in never takes rights away', () => {
    expect(sorted(rules.actions(anonymous, 'public/x/y'))).toEqual(['pull']);
    expect(sorted(rules.actions(dave, 'public/x'))).toEqual(['pull']);
    expect(sorted(rules.actions(anonymous, 'shared/x'))).toEqual([]);
    expect(sorted(rules.actions(dave, 'shared/x'))).toEqual(['pull']);
  });

  it('groups and users add up; push brings pull along', () => {
    expect(sorted(rules.actions(bob, 'team/a'))).toEqual(['pull', 'push']);
    expect(sorted(rules.actions(carol, 'team/carol-1'))).toEqual(['delete', 'pull', 'push']);
    expect(sorted(rules.actions(bob, 'team/carol-1'))).toEqual(['pull', 'push']);
    expect(sorted(rules.actions(alice, 'anything/at/all'))).toEqual(['delete', 'pull', 'push']);
    expect(sorted(rules.actions(dave, 'team/a'))).toEqual([]);
  });

  it('everything else is denied', () => {
    expect(rules.may(anonymous, 'team/a', 'pull')).toBe(false);
    expect(rules.may(bob, 'other', 'pull')).toBe(false);
    expect(rules.mayListCatalog(anonymous)).toBe(false);
    expect(rules.mayListCatalog(dave)).toBe(false);
    expect(rules.mayListCatalog(bob)).toBe(true);
    expect(rules.mayListCatalog(alice)).toBe(true);
  });

  it('grants the intersection of what was asked and what is allowed, never an error', () => {
    const asked = parseScopes(['repository:team/a:pull,push,delete', 'repository:public/p:pull,push', 'repository:secret:pull', 'registry:catalog:*', 'weird:thing:x', 'repository:BAD:pull']);
    expect(rules.grant(bob, asked)).toEqual([
      { type: 'repository', name: 'team/a', actions: ['pull', 'push'] },
      { type: 'repository', name: 'public/p', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(rules.grant(anonymous, asked)).toEqual([{ type: 'repository', name: 'public/p', actions: ['pull'] }]);
    expect(rules.grant(alice, parseScopes(['repository:x:*']))).toEqual([{ type: 'repository', name: 'x', actions: ['pull', 'push', 'delete'] }]);
  });

  it('allows: all of the required scopes', () => {
    expect(rules.allows(bob, parseScopes(['repository:team/a:pull,push']))).toBe(true);
    expect(rules.allows(bob, parseScopes(['repository:team/a:pull,push', 'repository:secret:pull']))).toBe(false);
    expect(rules.allows(bob, parseScopes(['registry:catalog:*']))).toBe(true);
    expect(rules.allows(dave, parseScopes(['registry:catalog:*']))).toBe(false);
  });
});

describe('auth config', () => {
  it('defaults to mode none with nothing else needed', () => {
    const c = authSchema.parse({});
    expect(c.mode).toBe('none');
    expect(c.token.lifetime).toBe(300_000);
  });

  it('reads durations as milliseconds', () => {
    expect(authSchema.parse({ token: { lifetime: '10m', refreshLifetime: '2d', leeway: '500ms' } }).token).toMatchObject({ lifetime: 600_000, refreshLifetime: 172_800_000, leeway: 500 });
  });

  it('refuses plain passwords, undefined groups, rules that grant nothing, HMAC or none algorithms', () => {
    expect(authSchema.safeParse({ users: { alice: { password: 'secret' } } }).success).toBe(false);
    expect(authSchema.safeParse({ rules: [{ groups: ['nobody'], repositories: ['*'], actions: ['pull'] }] }).success).toBe(false);
    expect(authSchema.safeParse({ rules: [{ users: ['a'], repositories: ['*'] }] }).success).toBe(false);
    expect(authSchema.safeParse({ rules: [{ repositories: ['*'], actions: ['pull'] }] }).success).toBe(false);
    expect(authSchema.safeParse({ mode: 'basic' }).success).toBe(false);
    for (const alg of ['HS256', 'none']) {
      expect(authSchema.safeParse({ token: { issuers: [{ issuer: 'x', jwks: 'f', algorithms: [alg] }] } }).success).toBe(false);
      expect(authSchema.safeParse({ token: { algorithm: alg } }).success).toBe(false);
    }
    expect(authSchema.safeParse({ token: { issuers: [{ issuer: 'berth', jwks: 'f' }] } }).success).toBe(false);
    expect(authSchema.safeParse({ users: { 'a:b': { password: '$2y$04$' + 'a'.repeat(53) } } }).success).toBe(false);
  });
});
