import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { sweepMirrored, UsageLog } from '../../src/mirror/retention.ts';
import { Router } from '../../src/mirror/router.ts';
import { Upstream } from '../../src/mirror/upstream.ts';
import { parseDigest } from '../../src/oci/digest.ts';
import { collectGarbage } from '../../src/registry/gc.ts';
import { layout } from '../../src/registry/layout.ts';
import { Registry } from '../../src/registry/registry.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';
import { pushTinyImage, sha256 } from '../support/mirror.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'berth-retention-'));
  dirs.push(dir);
  const driver = new FsDriver(dir);
  await driver.init();
  const config = parseConfig({ mirror: { upstreams: [{ name: 'ghcr', url: 'https://ghcr.io' }] } });
  const router = new Router(config.mirror.upstreams.map((u) => new Upstream(u, config.mirror.timeouts)), undefined, []);
  // Mirrored content has the layout of a push under its local name, so a plain Registry can stage it.
  return { driver, router, registry: new Registry(driver), usage: new UsageLog() };
}

const minute = 60_000;

describe('mirror retention (cache size policy by age)', () => {
  it('expires unused mirrored manifests and their tags, keeps used ones and local repositories', async () => {
    const { driver, router, registry, usage } = await setup();
    const old = await pushTinyImage(registry, 'ghcr.io/org/old', 'v1', 'old');
    const used = await pushTinyImage(registry, 'ghcr.io/org/used', 'v1', 'used');
    const local = await pushTinyImage(registry, 'team/app', 'v1', 'local');
    usage.note('ghcr.io/org/used', parseDigest(used));
    const report = await sweepMirrored(driver, registry.tags, router, usage, 10 * minute, Date.now() + 5 * minute);
    expect(report).toEqual({ touched: 1, manifestsExpired: 0, tagsExpired: 0 });

    // Later: `old` was never used again; `used` was touched by the first sweep.
    const later = await sweepMirrored(driver, registry.tags, router, usage, 10 * minute, Date.now() + 10 * minute + 1_000);
    expect(later.manifestsExpired).toBeGreaterThanOrEqual(1);
    expect(await registry.manifests.resolve('ghcr.io/org/old', { tag: 'v1' })).toBeUndefined();
    expect(await registry.manifests.resolve('ghcr.io/org/old', { digest: parseDigest(old) })).toBeUndefined();
    expect(await registry.manifests.resolve('team/app', { digest: parseDigest(local) })).toBeDefined();
  });

  it('leaves gc every blob a remaining manifest references, even one an expired manifest shared', async () => {
    const { driver, router, registry, usage } = await setup();
    const shared = randomBytes(1000);
    const onlyOld = randomBytes(1000);
    await pushTinyImage(registry, 'ghcr.io/org/old', 'v1', 'old', [shared, onlyOld]);
    const kept = await pushTinyImage(registry, 'ghcr.io/org/kept', 'v1', 'kept', [shared]);
    usage.note('ghcr.io/org/kept', parseDigest(kept));
    await sweepMirrored(driver, registry.tags, router, usage, 10 * minute, Date.now());
    // `kept` is pulled again before the next sweep; `old` is not.
    usage.note('ghcr.io/org/kept', parseDigest(kept));
    await sweepMirrored(driver, registry.tags, router, usage, 10 * minute, Date.now() + 10 * minute + 1_000);
    expect(await registry.manifests.resolve('ghcr.io/org/kept', { tag: 'v1' })).toBeDefined();
    expect(await registry.manifests.resolve('ghcr.io/org/old', { tag: 'v1' })).toBeUndefined();
    await collectGarbage(driver, { graceMs: 0 });
    expect(await driver.stat(layout.blob(parseDigest(sha256(shared))))).toBeDefined();
    expect(await driver.stat(layout.blob(parseDigest(sha256(onlyOld))))).toBeUndefined();
  });
});
