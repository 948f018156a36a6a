import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatDigest, parseDigest, type Digest } from '../../src/oci/digest.ts';
import { OciError } from '../../src/oci/errors.ts';
import { collectGarbage } from '../../src/maintenance/gc.ts';
import { purgeUploads } from '../../src/maintenance/uploads.ts';
import { layout } from '../../src/registry/layout.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';

const later = Date.now() + 10 * 3_600_000;
let dir: string;
let driver: FsDriver;
let registry: StoredRegistry;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-gc-'));
  driver = new FsDriver(dir);
  await driver.init();
  registry = new StoredRegistry(driver);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const digestOf = (b: Uint8Array): Digest => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
const bodyOf = (b: Uint8Array): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => (c.enqueue(b), c.close()) });

async function pushBlob(repo: string, bytes: Uint8Array = randomBytes(1000)): Promise<{ digest: string; size: number; mediaType: string }> {
  const session = await registry.uploads.start(repo, 'sha256');
  const digest = digestOf(bytes);
  await registry.uploads.finish(repo, session.id, digest, { body: bodyOf(bytes) });
  return { digest: formatDigest(digest), size: bytes.length, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
}

async function pushManifest(repo: string, doc: object, tag?: string): Promise<Digest> {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const mediaType = (doc as { mediaType: string }).mediaType;
  const ref = tag === undefined ? { digest: digestOf(bytes) } : { tag };
  return (await registry.manifests.put(repo, ref, bytes, mediaType, [])).digest;
}

async function pushImage(repo: string, layers: Array<{ digest: string; size: number; mediaType: string }>, tag?: string, extra: object = {}): Promise<Digest> {
  const config = await pushBlob(repo, new TextEncoder().encode(JSON.stringify({ n: randomBytes(4).toString('hex') })));
  return pushManifest(repo, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers, ...extra }, tag);
}

const blobExists = async (d: string): Promise<boolean> => (await driver.stat(layout.blob(parseDigest(d)))) !== undefined;

describe('berth gc', () => {
  it('deletes exactly the blobs no manifest references, and their links', async () => {
    const [l1, l2, l3] = [await pushBlob('r'), await pushBlob('r'), await pushBlob('r')];
    await pushImage('r', [l1!, l2!], 'a');
    const b = await pushImage('r', [l2!, l3!], 'b');
    await registry.manifests.delete('r', b);

    const report = await collectGarbage(registry.inventory, { graceMs: 60_000, now: later });

    expect(await blobExists(l1!.digest)).toBe(true);
    expect(await blobExists(l2!.digest)).toBe(true);
    expect(await blobExists(l3!.digest)).toBe(false);
    expect(await blobExists(formatDigest(b))).toBe(false); // the deleted manifest's own bytes
    expect(report.blobsDeleted).toBe(3); // l3, b's config and b's manifest bytes
    expect(report.linksDeleted).toBe(2); // r's links to l3 and to b's config
    expect(await registry.blobs.find('r', parseDigest(l3!.digest))).toBeUndefined();
    expect((await registry.manifests.get('r', { tag: 'a' })).bytes.byteLength).toBeGreaterThan(0);
  });

  it('changes nothing on a dry run but reports the same', async () => {
    const orphan = await pushBlob('r');
    await pushImage('r', [await pushBlob('r')], 'a');
    const dry = await collectGarbage(registry.inventory, { graceMs: 60_000, now: later, dryRun: true });
    expect(dry.blobsDeleted).toBe(1);
    expect(await blobExists(orphan.digest)).toBe(true);
    const real = await collectGarbage(registry.inventory, { graceMs: 60_000, now: later });
    expect(real).toEqual(dry);
    expect(await blobExists(orphan.digest)).toBe(false);
  });

  it('keeps what a push under way still needs: blobs younger than the grace period', async () => {
    const layer = await pushBlob('r'); // uploaded, manifest not pushed yet
    const report = await collectGarbage(registry.inventory, { graceMs: 3_600_000 });
    expect(report.blobsDeleted).toBe(0);
    await expect(pushImage('r', [layer], 'late')).resolves.toBeDefined();
  });

  it('keeps an old blob that was just mounted into a repository for a push', async () => {
    const layer = await pushBlob('old');
    // Age everything, then mount the blob into a new repository "now".
    const aged = await collectGarbage(registry.inventory, { graceMs: 1, now: later, dryRun: true });
    expect(aged.blobsDeleted).toBe(1);
    await registry.blobs.mount('new', parseDigest(layer.digest), 'old');
    const report = await collectGarbage(registry.inventory, { graceMs: 3_600_000 });
    expect(report.blobsDeleted).toBe(0);
  });

  it('with deleteUntagged, removes manifests no tag reaches but keeps index children and referrers', async () => {
    const shared = await pushBlob('r');
    const child = await pushImage('r', [shared]);
    const index = await pushManifest(
      'r',
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: formatDigest(child), size: 1 }] },
      'multi',
    );
    const subjectSize = (await registry.manifests.stat('r', { digest: index })).size;
    const referrer = await pushImage('r', [], undefined, {
      artifactType: 'application/example.sbom',
      subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: formatDigest(index), size: subjectSize },
    });
    const untagged = await pushImage('r', [await pushBlob('r')]);

    const report = await collectGarbage(registry.inventory, { graceMs: 60_000, now: later, deleteUntagged: true });

    expect(report.manifestsDeleted).toBe(1);
    expect(await registry.manifests.resolve('r', { digest: untagged })).toBeUndefined();
    for (const kept of [child, index, referrer]) expect(await registry.manifests.resolve('r', { digest: kept })).toBeDefined();
    expect(await blobExists(shared.digest)).toBe(true);
  });

  it('purges upload sessions older than the limit and leaves fresh ones', async () => {
    const old = await registry.uploads.start('r', 'sha256');
    expect(await purgeUploads(registry.inventory, 3_600_000)).toBe(0);
    expect(await purgeUploads(registry.inventory, 3_600_000, { now: later })).toBe(1);
    await expect(registry.uploads.status('r', old.id)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
  });
});

/**
 * The push side of gc's safety (src/registry/collections.ts): once a collection has announced that
 * it is about to delete a digest, a push relying on it is refused cleanly, in this registry and in
 * another one on the same store (another process, another replica); once it is over, it goes through.
 */
describe('a push beside a garbage collection about to delete what it relies on', () => {
  const refusal = async (p: Promise<unknown>): Promise<string | undefined> =>
    p.then(
      () => undefined,
      (e: unknown) => (e instanceof OciError ? `${e.status} ${e.code}` : `not an OciError: ${String(e)}`),
    );
  /** A layer and a config in `r`, and a manifest of them not pushed yet. */
  async function unpushedImage(): Promise<{ layer: Digest; layerBytes: Uint8Array; config: Digest; manifest: Uint8Array }> {
    const layerBytes = randomBytes(2000);
    const layer = await pushBlob('r', layerBytes);
    const config = await pushBlob('r', new TextEncoder().encode('{"os":"linux"}'));
    const doc = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [layer] };
    return { layer: parseDigest(layer.digest), layerBytes, config: parseDigest(config.digest), manifest: new TextEncoder().encode(JSON.stringify(doc)) };
  }

  it('is refused cleanly before any tag is written, here and through another registry on the store, and goes through once the collection is over', async () => {
    const { layer, layerBytes, manifest } = await unpushedImage();
    const other = new StoredRegistry(driver);
    const run = await registry.inventory.beginCollection();
    await run.doom(layer);
    // A collection looks again (and deletes) only once it has settled: a push that listed the
    // markers before this one was written may rely on that listing until then.
    await run.settled();
    for (const via of [registry, other]) {
      expect(await refusal(via.manifests.put('r', { tag: 'v1' }, manifest, undefined, []))).toBe('400 MANIFEST_BLOB_UNKNOWN');
      expect(await via.tags.resolve('r', 'v1')).toBeUndefined();
      // Its bytes are there already: the upload of the same layer is refused as it completes...
      const session = await via.uploads.start('s', 'sha256');
      expect(await refusal(via.uploads.finish('s', session.id, layer, { body: bodyOf(layerBytes) }))).toBe('404 BLOB_UPLOAD_UNKNOWN');
      // ...and a mount of it does not happen (the client uploads instead).
      expect(await via.blobs.mount('m', layer, 'r')).toBeUndefined();
    }
    // What is not doomed is not refused.
    await pushBlob('s');
    await run.end();

    expect(formatDigest((await other.manifests.put('r', { tag: 'v1' }, manifest, undefined, [])).digest)).toBe(formatDigest(digestOf(manifest)));
    expect(await registry.blobs.mount('m', layer, 'r')).toMatchObject({ size: layerBytes.byteLength });
    // The collection's marker and tombstones went with it.
    expect(await driver.list('_gc/runs')).toEqual([]);
    expect(await driver.list('_gc/doomed')).toEqual([]);
  });

  it('never leaves an acknowledged manifest without its layer, whichever wins', async () => {
    const { layer, config, manifest } = await unpushedImage();
    // The push starts while gc marks (when nothing references the layer yet) and runs beside the rest.
    let push: Promise<string | undefined> | undefined;
    const report = await collectGarbage(registry.inventory, {
      graceMs: 0,
      now: later,
      onProgress: (phase) => {
        if (phase === 'mark') push ??= refusal(registry.manifests.put('r', { tag: 'v1' }, manifest, undefined, []));
      },
    });
    const outcome = await push;
    if (outcome === undefined) {
      expect(await blobExists(formatDigest(layer))).toBe(true);
      expect(await blobExists(formatDigest(config))).toBe(true);
      expect(await registry.blobs.find('r', layer)).toBeDefined();
    } else {
      expect(outcome).toBe('400 MANIFEST_BLOB_UNKNOWN');
      expect(await registry.tags.resolve('r', 'v1')).toBeUndefined();
    }
    expect(report.repositories).toBe(1);
  });
});
