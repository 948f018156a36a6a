/** A stored manifest with what the pages say about it: its parsed view, total size and platforms. */
import type { Platform } from './format.ts';
import { configView, imageBytes, manifestView, platformEntries, type ManifestView } from './model.ts';
import { mapLimit } from './parts.ts';
import type { ManifestRef, RegistrySource } from './source.ts';

export interface Described {
  ref: ManifestRef;
  bytes: Uint8Array;
  /** Undefined when the stored bytes do not parse as a manifest. */
  view: ManifestView | undefined;
  /**
   * Bytes it takes in the registry: an image's manifest, config and layers; an index's own bytes
   * and those of every platform stored here, a blob shared by two platforms counted once.
   */
  total: number;
  platforms: Platform[];
}

/** Configs larger than this are not read for a platform (real ones are a few KiB). */
export const configLimit = 256 * 1024;

async function imagePlatform(src: RegistrySource, name: string, view: ManifestView): Promise<Platform | undefined> {
  if (!view.config || view.config.size > configLimit) return undefined;
  const bytes = await src.smallBlob(name, view.config.digest, configLimit);
  return bytes && configView(bytes)?.platform;
}

export async function describe(src: RegistrySource, name: string, ref: ManifestRef): Promise<Described | undefined> {
  const stored = await src.manifest(name, ref.digest);
  if (!stored) return undefined;
  const view = manifestView(stored.bytes, stored.mediaType);
  const d: Described = { ref, bytes: stored.bytes, view, total: stored.size, platforms: [] };
  if (!view) return d;
  if (view.kind === 'image') {
    d.total = imageBytes(stored.size, view);
    const platform = await imagePlatform(src, name, view);
    if (platform) d.platforms = [platform];
    return d;
  }
  d.platforms = platformEntries(view).flatMap((m) => (m.platform ? [m.platform] : []));
  const sizes = new Map<string, number>();
  await mapLimit(view.manifests, 4, async (m) => {
    const child = await src.manifest(name, m.digest);
    if (!child) return;
    sizes.set(m.digest, child.size);
    const cv = manifestView(child.bytes, child.mediaType);
    if (cv?.kind !== 'image') return;
    for (const b of [...(cv.config ? [cv.config] : []), ...cv.layers]) if (b.urls.length === 0) sizes.set(b.digest, b.size);
  });
  d.total = stored.size + [...sizes.values()].reduce((a, b) => a + b, 0);
  return d;
}
