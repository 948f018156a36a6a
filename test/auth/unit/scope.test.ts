import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { covers, formatScope, missingScopes, parseScopes, requiredAccess, type Requirement } from '../../../src/auth/scope.ts';
import { OciError } from '../../../src/oci/errors.ts';
import { v2Routes } from '../../../src/http/routes.ts';
import type { Registry } from '../../../src/registry/registry.ts';

const digest = `sha256:${'a'.repeat(64)}`;
const none = (): undefined => undefined;
const scopesOf = (r: Requirement): string[] => (r.kind === 'scopes' ? r.scopes.map(formatScope) : [r.kind]);
// The query (a mount's `from`) never changes what a request needs; the cases pass it to show that.
const need = (method: string, path: string, _query: Record<string, string> = {}): string[] =>
  scopesOf(requiredAccess(method, path));

describe('requiredAccess', () => {
  it('reads need pull', () => {
    expect(need('GET', `/v2/a/b/manifests/latest`)).toEqual(['repository:a/b:pull']);
    expect(need('HEAD', `/v2/a/manifests/${digest}`)).toEqual(['repository:a:pull']);
    expect(need('GET', `/v2/a/blobs/${digest}`)).toEqual(['repository:a:pull']);
    expect(need('HEAD', `/v2/a/blobs/${digest}`)).toEqual(['repository:a:pull']);
    expect(need('GET', '/v2/a/tags/list')).toEqual(['repository:a:pull']);
    expect(need('GET', `/v2/a/referrers/${digest}`)).toEqual(['repository:a:pull']);
  });

  it('writes need pull and push, as distribution asks', () => {
    expect(need('PUT', '/v2/a/manifests/v1')).toEqual(['repository:a:pull,push']);
    expect(need('POST', '/v2/a/blobs/uploads/')).toEqual(['repository:a:pull,push']);
    expect(need('POST', '/v2/a/blobs/uploads')).toEqual(['repository:a:pull,push']);
    for (const method of ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE']) {
      expect(need(method, '/v2/a/blobs/uploads/5f0c1e2a-id')).toEqual(['repository:a:pull,push']);
    }
  });

  it('deletes need delete', () => {
    expect(need('DELETE', '/v2/a/manifests/v1')).toEqual(['repository:a:delete']);
    expect(need('DELETE', `/v2/a/blobs/${digest}`)).toEqual(['repository:a:delete']);
  });

  it('a mount needs push on the target only: the handler decides what it may link from', () => {
    expect(need('POST', '/v2/target/blobs/uploads/', { mount: digest, from: 'source/x' })).toEqual(['repository:target:pull,push']);
    expect(need('POST', '/v2/t/blobs/uploads/', { mount: digest, from: 't' })).toEqual(['repository:t:pull,push']);
    expect(need('POST', '/v2/t/blobs/uploads/', { mount: digest })).toEqual(['repository:t:pull,push']);
    expect(need('POST', '/v2/t/blobs/uploads/', { mount: digest, from: '../Bad' })).toEqual(['repository:t:pull,push']);
    // `from` without `mount` is not a mount.
    expect(need('POST', '/v2/t/blobs/uploads/', { from: 'other' })).toEqual(['repository:t:pull,push']);
  });

  it('the catalog needs registry:catalog:*, the base and unknown endpoints an identity', () => {
    expect(need('GET', '/v2/_catalog')).toEqual(['registry:catalog:*']);
    expect(need('HEAD', '/v2/_catalog')).toEqual(['registry:catalog:*']);
    expect(need('GET', '/v2/')).toEqual(['authenticated']);
    expect(need('GET', '/v2')).toEqual(['authenticated']);
    expect(need('GET', '/v2/a/nothing-here')).toEqual(['authenticated']);
    expect(need('POST', '/v2/a/manifests/v1')).toEqual(['authenticated']);
    expect(need('POST', '/v2/_catalog')).toEqual(['authenticated']);
  });

  it('refuses a repository name the handler would refuse', () => {
    expect(() => need('GET', '/v2/UPPER/manifests/x')).toThrow(OciError);
    expect(() => need('GET', '/v2/a/../b/manifests/x')).toThrow(OciError);
  });

  it('decodes an escaped name as the router does', () => {
    expect(need('GET', '/v2/a%2Fb/manifests/x')).toEqual(['repository:a/b:pull']);
  });
});

/**
 * The gate and the router must agree on the repository a request acts on; otherwise access to one
 * repository could be checked while another is served. The real routes run against a registry that
 * records the name it is asked about.
 */
describe('requiredAccess agrees with the router', () => {
  function recordingRegistry(seen: string[]): Registry {
    const stop = (): never => {
      throw new OciError('UNSUPPORTED', 'recorded');
    };
    const handler: ProxyHandler<object> = {
      get: (_t, prop) => (prop === 'then' ? undefined : new Proxy(() => undefined, handler)),
      apply: (_t, _this, args: unknown[]) => {
        if (typeof args[0] === 'string') seen.push(args[0]);
        return stop();
      },
    };
    return new Proxy(() => undefined, handler) as unknown as Registry;
  }

  const cases: Array<[string, string]> = [
    ['GET', '/v2/a/b/tags/list'],
    ['GET', '/v2/a/tags/list/manifests/latest'],
    ['GET', '/v2/a/manifests/x/manifests/latest'],
    ['PUT', '/v2/a/manifests/blobs/manifests/v1'],
    ['POST', '/v2/a/blobs/uploads/'],
    ['POST', '/v2/a/blobs/uploads'],
    ['POST', '/v2/a/blobs/uploads/blobs/uploads/'],
    ['PATCH', '/v2/a/blobs/uploads/some-id'],
    ['GET', '/v2/a/blobs/uploads/some-id'],
    ['HEAD', '/v2/a/blobs/uploads/some-id'],
    ['DELETE', '/v2/a/blobs/uploads/some-id'],
    ['GET', `/v2/a/blobs/${digest}`],
    ['GET', `/v2/a/blobs/uploads/blobs/${digest}`],
    ['DELETE', `/v2/a/referrers/x/blobs/${digest}`],
    ['GET', `/v2/a/referrers/${digest}`],
    ['GET', `/v2/a/blobs/x/referrers/${digest}`],
    ['GET', '/v2/a%2Fb/manifests/latest'],
    ['GET', '/v2/tags/list/tags/list'],
  ];

  it.each(cases)('%s %s', async (method, path) => {
    const seen: string[] = [];
    const app = v2Routes(recordingRegistry(seen), { delete: { blobs: true, manifests: true, tags: true }, maxManifestBytes: 1 << 20, chunkMinLength: 1, fastPaths: {} }, () => undefined);
    const url = new URL(`http://registry${path}`);
    await app.request(url.href, { method, body: method === 'PUT' || method === 'PATCH' || method === 'POST' ? '{}' : null });
    const required = requiredAccess(method, path);
    expect(required.kind).toBe('scopes');
    expect(seen.length, 'the handler reached the registry').toBeGreaterThan(0);
    expect(required.kind === 'scopes' ? required.scopes[0]?.name : undefined).toBe(seen[0]);
  });
});

describe('scope strings', () => {
  it('parses several scopes per value and repeated values, merging per resource', () => {
    expect(parseScopes(['repository:a:pull', 'repository:a:push repository:b:pull', 'registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
      { type: 'repository', name: 'b', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('keeps colons inside the name and drops a resource class and malformed entries', () => {
    expect(parseScopes(['repository:host:5000/a:pull', 'repository(plugin):p:pull', 'nonsense', 'repository::pull', 'repository:a:'])).toEqual([
      { type: 'repository', name: 'host:5000/a', actions: ['pull'] },
      { type: 'repository', name: 'p', actions: ['pull'] },
    ]);
  });

  it('covers: every required action granted; * grants all of its resource', () => {
    const granted = parseScopes(['repository:a:pull,push', 'repository:b:*']);
    expect(covers(granted, parseScopes(['repository:a:pull']))).toBe(true);
    expect(covers(granted, parseScopes(['repository:a:pull,push']))).toBe(true);
    expect(covers(granted, parseScopes(['repository:b:delete']))).toBe(true);
    expect(covers(granted, parseScopes(['repository:a:delete']))).toBe(false);
    expect(covers(granted, parseScopes(['repository:c:pull']))).toBe(false);
    expect(missingScopes(granted, parseScopes(['repository:a:pull,delete', 'repository:c:pull']))).toEqual([
      { type: 'repository', name: 'a', actions: ['delete'] },
      { type: 'repository', name: 'c', actions: ['pull'] },
    ]);
  });
});
