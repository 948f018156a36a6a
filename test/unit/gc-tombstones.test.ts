/**
 * The push side of gc's safety (src/registry/collections.ts), against a real store on disk: once a
 * collection has announced that it is about to delete a digest, a push that relies on it is refused
 * cleanly, in this registry and in another one on the same store (another process, another replica),
 * and once the collection is over the same push goes through.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/maintenance/gc.ts';
import { formatDigest, parseDigest, type Digest } from '../../src/oci/digest.ts';
import { OciError } from '../../src/oci/errors.ts';
import { layout } from '../../src/registry/layout.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';

let dir: string;
let driver: FsDriver;
let registry: StoredRegistry;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-gc-tombstones-'));
  driver = new FsDriver(dir);
  await driver.init();
  registry = new StoredRegistry(driver);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const digestOf = (b: Uint8Array): Digest => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
const bodyOf = (b: Uint8Array): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => (c.enqueue(b), c.close()) });

async function pushBlob(into: StoredRegistry, repo: string, bytes: Uint8Array): Promise<Digest> {
  const session = await into.uploads.start(repo, 'sha256');
  const digest = digestOf(bytes);
  await into.uploads.finish(repo, session.id, digest, { body: bodyOf(bytes) });
  return digest;
}

function manifestOf(config: Digest, configSize: number, layer: Digest, layerSize: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: formatDigest(config), size: configSize },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: formatDigest(layer), size: layerSize }],
    }),
  );
}

const refusal = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (e instanceof OciError ? `${e.status} ${e.code}` : `not an OciError: ${String(e)}`),
  );

describe('a push beside a garbage collection about to delete what it relies on', () => {
  it('is refused cleanly before any tag is written, here and through another registry on the store, and goes through once the collection is over', async () => {
    const layerBytes = randomBytes(2000);
    const configBytes = new TextEncoder().encode('{"os":"linux"}');
    const layer = await pushBlob(registry, 'r', layerBytes);
    const config = await pushBlob(registry, 'r', configBytes);
    const manifest = manifestOf(config, configBytes.byteLength, layer, layerBytes.byteLength);
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
    expect(await pushBlob(other, 's', randomBytes(10))).toBeDefined();
    await run.end();

    const pushed = await other.manifests.put('r', { tag: 'v1' }, manifest, undefined, []);
    expect(formatDigest(pushed.digest)).toBe(formatDigest(digestOf(manifest)));
    expect(await registry.blobs.mount('m', layer, 'r')).toMatchObject({ size: layerBytes.byteLength });
    // The collection's marker and tombstones are gone with it.
    expect(await driver.list('_gc/runs')).toEqual([]);
    expect(await driver.list('_gc/doomed')).toEqual([]);
  });

  it('never leaves an acknowledged manifest without its layer, whichever wins', async () => {
    const layerBytes = randomBytes(2000);
    const configBytes = new TextEncoder().encode('{"os":"linux"}');
    const layer = await pushBlob(registry, 'r', layerBytes);
    const config = await pushBlob(registry, 'r', configBytes);
    const manifest = manifestOf(config, configBytes.byteLength, layer, layerBytes.byteLength);
    // The push starts while gc marks (when nothing references the layer yet), and runs beside the rest.
    let push: Promise<string | undefined> | undefined;
    const report = await collectGarbage(registry.inventory, {
      graceMs: 0,
      now: Date.now() + 60_000,
      onProgress: (phase) => {
        if (phase === 'mark') push ??= refusal(registry.manifests.put('r', { tag: 'v1' }, manifest, undefined, []));
      },
    });
    const outcome = await push;
    if (outcome === undefined) {
      expect(await driver.stat(layout.blob(layer))).toBeDefined();
      expect(await driver.stat(layout.blob(config))).toBeDefined();
      expect(await registry.blobs.find('r', layer)).toBeDefined();
    } else {
      expect(outcome).toBe('400 MANIFEST_BLOB_UNKNOWN');
      expect(await registry.tags.resolve('r', 'v1')).toBeUndefined();
    }
    expect(report.repositories).toBe(1);
  });
});
