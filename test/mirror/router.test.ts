import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/schema.ts';
import { Router } from '../../src/mirror/router.ts';
import { Upstream } from '../../src/mirror/upstream.ts';

function router(mirror: Record<string, unknown>): Router {
  const config = parseConfig({ mirror } as never);
  const upstreams = config.mirror.upstreams.map((u) => new Upstream(u, config.mirror.timeouts));
  return new Router(upstreams, config.mirror.default, config.mirror.local);
}

const hubAndGhcr = {
  default: 'hub',
  local: ['team'],
  upstreams: [
    { name: 'hub', url: 'https://registry-1.docker.io' },
    { name: 'ghcr', url: 'https://ghcr.io' },
    { name: 'quay', url: 'https://quay.io:8443', libraryPrefix: true },
  ],
};

describe('mirror routing', () => {
  it('adds library/ to one-component Docker Hub names and stores them under one name', () => {
    const r = router(hubAndGhcr);
    expect(r.route('alpine')).toMatchObject({ remote: 'library/alpine', local: 'docker.io/library/alpine' });
    expect(r.route('library/alpine')).toMatchObject({ remote: 'library/alpine', local: 'docker.io/library/alpine' });
    expect(r.route('docker.io/alpine')).toMatchObject({ remote: 'library/alpine', local: 'docker.io/library/alpine' });
    expect(r.route('bitnami/redis')?.upstream.name).toBe('hub');
  });

  it('routes by prefix (the URL host name by default), without library/ unless configured', () => {
    const r = router(hubAndGhcr);
    expect(r.route('ghcr.io/org/app')).toMatchObject({ remote: 'org/app', local: 'ghcr.io/org/app' });
    expect(r.route('ghcr.io/app')).toMatchObject({ remote: 'app' });
    expect(r.route('quay.io/app')).toMatchObject({ remote: 'library/app' });
  });

  it('keeps configured local namespaces, and everything without a default upstream, local', () => {
    expect(router(hubAndGhcr).route('team/app')).toBeUndefined();
    const noDefault = router({ upstreams: [{ name: 'ghcr', url: 'https://ghcr.io' }] });
    expect(noDefault.route('org/app')).toBeUndefined();
    expect(noDefault.route('ghcr.io/org/app')?.upstream.name).toBe('ghcr');
  });

  it('finds the upstream of a containerd ?ns= by host, name or prefix', () => {
    const r = router(hubAndGhcr);
    expect(r.byNamespace('docker.io')?.name).toBe('hub');
    expect(r.byNamespace('registry-1.docker.io')?.name).toBe('hub');
    expect(r.byNamespace('GHCR.IO')?.name).toBe('ghcr');
    expect(r.byNamespace('quay.io:8443')?.name).toBe('quay');
    expect(r.byNamespace('example.com')).toBeUndefined();
  });

  it('rejects a default that names no upstream', () => {
    expect(() => router({ default: 'nope', upstreams: [{ name: 'ghcr', url: 'https://ghcr.io' }] })).toThrow(/default/);
  });
});
