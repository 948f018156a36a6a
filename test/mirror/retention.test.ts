import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/schema.ts';
import { collectGarbage } from '../../src/maintenance/gc.ts';
import { expireMirrored, type RetentionPolicy } from '../../src/maintenance/retention.ts';
import { prefetchPins } from '../../src/mirror/prefetch.ts';
import { Router } from '../../src/mirror/router.ts';
import { Upstream } from '../../src/mirror/upstream.ts';
import { UsageLog } from '../../src/mirror/usage.ts';
import { parseDigest } from '../../src/oci/digest.ts';
import { layout } from '../../src/registry/layout.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
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
  const registry = new StoredRegistry(driver);
  const usage = new UsageLog(registry.pulls);
  const sweepMirrored = (policy: RetentionPolicy, now?: number) => expireMirrored(registry.inventory, usage, (name) => router.stores(name), policy, now === undefined ? {} : { now });
  // Mirrored content has the layout of a push under its local name, so a plain registry can stage it.
  return { dir, driver, sweepMirrored, registry, usage, router };
}

const minute = 60_000;
const byAge = { maxAgeMs: 10 * minute, maxBytes: 0 };

describe('mirror retention (cache size policy by age)', () => {
  it('expires unused mirrored manifests and their tags, keeps used ones and local repositories', async () => {
    const { driver, sweepMirrored, registry, usage } = await setup();
    const old = await pushTinyImage(registry, 'ghcr.io/org/old', 'v1', 'old');
    const used = await pushTinyImage(registry, 'ghcr.io/org/used', 'v1', 'used');
    const local = await pushTinyImage(registry, 'team/app', 'v1', 'local');
    usage.note('ghcr.io/org/used', parseDigest(used));
    const report = await sweepMirrored(byAge, Date.now() + 5 * minute);
    expect(report).toMatchObject({ touched: 1, manifestsExpired: 0, tagsExpired: 0 });

    // Later: `old` was never used again; `used` was touched by the first sweep.
    const later = await sweepMirrored(byAge, Date.now() + 10 * minute + 1_000);
    expect(later.manifestsExpired).toBeGreaterThanOrEqual(1);
    expect(await registry.manifests.resolve('ghcr.io/org/old', { tag: 'v1' })).toBeUndefined();
    expect(await registry.manifests.resolve('ghcr.io/org/old', { digest: parseDigest(old) })).toBeUndefined();
    expect(await registry.manifests.resolve('team/app', { digest: parseDigest(local) })).toBeDefined();
  });

  it('never expires what mirror.prefetch selects among the stored tags, however old', async () => {
    const { registry, usage, router } = await setup();
    const app = 'ghcr.io/org/app';
    const digests: Record<string, string> = {};
    for (const tag of ['1.0', '1.1', '2.0', 'dev']) digests[tag] = await pushTinyImage(registry, app, tag, tag);
    // The newest version and `dev` are prefetched (by the configured name, which the router maps).
    const pinned = prefetchPins([{ name: app, newest: 1 }, { name: app, tags: ['dev'] }], (name) => router.route(name)?.local);
    const report = await expireMirrored(registry.inventory, usage, (name) => router.stores(name), byAge, { now: Date.now() + 60 * minute, pinned });
    expect(report.manifestsExpired).toBe(2);
    for (const tag of ['2.0', 'dev']) expect(await registry.manifests.resolve(app, { tag }), tag).toBeDefined();
    for (const tag of ['1.0', '1.1']) expect(await registry.manifests.resolve(app, { digest: parseDigest(digests[tag]!) }), tag).toBeUndefined();
  });

  it('leaves gc every blob a remaining manifest references, even one an expired manifest shared', async () => {
    const { driver, sweepMirrored, registry, usage } = await setup();
    const shared = randomBytes(1000);
    const onlyOld = randomBytes(1000);
    await pushTinyImage(registry, 'ghcr.io/org/old', 'v1', 'old', [shared, onlyOld]);
    const kept = await pushTinyImage(registry, 'ghcr.io/org/kept', 'v1', 'kept', [shared]);
    usage.note('ghcr.io/org/kept', parseDigest(kept));
    await sweepMirrored(byAge, Date.now());
    // `kept` is pulled again before the next sweep; `old` is not.
    usage.note('ghcr.io/org/kept', parseDigest(kept));
    await sweepMirrored(byAge, Date.now() + 10 * minute + 1_000);
    expect(await registry.manifests.resolve('ghcr.io/org/kept', { tag: 'v1' })).toBeDefined();
    expect(await registry.manifests.resolve('ghcr.io/org/old', { tag: 'v1' })).toBeUndefined();
    await collectGarbage(registry.inventory, { graceMs: 0 });
    expect(await driver.stat(layout.blob(parseDigest(sha256(shared))))).toBeDefined();
    expect(await driver.stat(layout.blob(parseDigest(sha256(onlyOld))))).toBeUndefined();
  });
});

/** Sets the modification time of everything under `dir` (or of one storage key) to `ms` ago. */
async function age(dir: string, ms: number, key?: string): Promise<void> {
  const at = new Date(Date.now() - ms);
  if (key !== undefined) return utimes(join(dir, key), at, at);
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) await utimes(join(e.parentPath, e.name), at, at);
}

const hour = 60 * minute;
const blobGone = async (driver: FsDriver, bytes: Uint8Array): Promise<boolean> => (await driver.stat(layout.blob(parseDigest(sha256(bytes))))) === undefined;

describe('mirror retention (cache size policy by size)', () => {
  it('expires the least recently used images until the rest fits, and frees only what nothing kept or local uses', async () => {
    const { dir, driver, sweepMirrored, registry, usage } = await setup();
    const [shared, onlyOld, onlyKept, withLocal] = [0, 1, 2, 3].map(() => randomBytes(10_000));
    const old = await pushTinyImage(registry, 'ghcr.io/org/old', 'v1', 'old', [shared!, onlyOld!, withLocal!]);
    const kept = await pushTinyImage(registry, 'ghcr.io/org/kept', 'v1', 'kept', [shared!, onlyKept!]);
    await pushTinyImage(registry, 'team/app', 'v1', 'local', [withLocal!]);
    await age(dir, hour);
    await age(dir, 2 * hour, layout.manifestLink('ghcr.io/org/old', parseDigest(old)));

    const report = await sweepMirrored({ maxAgeMs: 0, maxBytes: 25_000 });
    // old, kept and their shared layer are ~31 kB; the layer team/app also links is not the mirror's to count.
    expect(report.bytesBefore).toBeGreaterThan(30_000);
    expect(report.bytesBefore).toBeLessThan(40_000);
    expect(report.bytesAfter).toBeLessThanOrEqual(25_000);
    expect(report).toMatchObject({ manifestsExpired: 1, tagsExpired: 1 });
    expect(await registry.manifests.resolve('ghcr.io/org/old', { tag: 'v1' })).toBeUndefined();
    expect(await registry.manifests.resolve('ghcr.io/org/kept', { digest: parseDigest(kept) })).toBeDefined();
    // The sweep itself freed the bytes: old's own layer, config and manifest; nothing kept or local uses.
    expect(await blobGone(driver, onlyOld!)).toBe(true);
    expect(await driver.stat(layout.blob(parseDigest(old)))).toBeUndefined();
    expect(report.bytesFreed).toBeGreaterThanOrEqual(10_000);
    for (const b of [shared!, onlyKept!, withLocal!]) expect(await blobGone(driver, b)).toBe(false);
    expect(await registry.blobs.find('ghcr.io/org/kept', parseDigest(sha256(shared!)))).toBeDefined();
    expect(await registry.blobs.find('team/app', parseDigest(sha256(withLocal!)))).toBeDefined();
    // Nothing left to do: the rest fits.
    expect(await sweepMirrored({ maxAgeMs: 0, maxBytes: 25_000 })).toMatchObject({ manifestsExpired: 0, blobsDeleted: 0 });
  });

  it('treats an index and the children stored with it as one image, used when any of them is', async () => {
    const { dir, driver, sweepMirrored, registry, usage } = await setup();
    const [l1, l2, l3] = [0, 1, 2].map(() => randomBytes(10_000));
    const children = [];
    for (const [i, layer] of [l1!, l2!].entries()) {
      const digest = await pushTinyImage(registry, 'ghcr.io/org/multi', `c${i}`, `child ${i}`, [layer]);
      const found = await registry.manifests.resolve('ghcr.io/org/multi', { digest: parseDigest(digest) });
      children.push({ mediaType: found!.mediaType, digest, size: found!.size });
    }
    const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }));
    await registry.manifests.put('ghcr.io/org/multi', { tag: 'v1' }, index, 'application/vnd.oci.image.index.v1+json', []);
    await pushTinyImage(registry, 'ghcr.io/org/other', 'v1', 'other', [l3!]);
    await age(dir, 3 * hour);

    // Pulled through one child since the last sweep: the whole index stays, however far over the limit.
    usage.note('ghcr.io/org/multi', parseDigest(children[0]!.digest));
    const first = await sweepMirrored({ maxAgeMs: 0, maxBytes: 1 });
    expect(first.manifestsExpired).toBe(1);
    expect(await registry.manifests.resolve('ghcr.io/org/other', { tag: 'v1' })).toBeUndefined();
    for (const c of children) expect(await registry.manifests.resolve('ghcr.io/org/multi', { digest: parseDigest(c.digest) })).toBeDefined();
    expect(await registry.manifests.resolve('ghcr.io/org/multi', { tag: 'v1' })).toBeDefined();
    expect(await blobGone(driver, l3!)).toBe(true);

    // Unused since: it goes whole, the index, both children, their tags and their layers.
    const second = await sweepMirrored({ maxAgeMs: 0, maxBytes: 1 });
    expect(second).toMatchObject({ manifestsExpired: 3, tagsExpired: 3, bytesAfter: 0 });
    for (const tag of ['v1', 'c0', 'c1']) expect(await registry.manifests.resolve('ghcr.io/org/multi', { tag })).toBeUndefined();
    expect(await blobGone(driver, l1!)).toBe(true);
    expect(await blobGone(driver, l2!)).toBe(true);
  });
});
