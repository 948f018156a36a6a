/**
 * A stored manifest with what the pages say about it: its parsed view, total size and platforms.
 * Manifests and configs are content addressed, so what is read from them is kept by digest (in
 * bounded LRUs): a page of a thousand tags that share configs reads each config once, not per tag.
 */
import { LRUCache } from 'lru-cache';
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
/** Parsed manifests up to this size are kept. */
const keptManifestBytes = 64 * 1024;

export class Describer {
  readonly #src: RegistrySource;
  readonly #views = new LRUCache<string, { view: ManifestView | null }>({ max: 4096 });
  readonly #platforms = new LRUCache<string, { platform: Platform | null }>({ max: 4096 });

  constructor(src: RegistrySource) {
    this.#src = src;
  }

  /** The manifest a tag or digest names in `name`, parsed; undefined when it is not there. */
  async manifest(name: string, reference: string): Promise<{ ref: ManifestRef; bytes: Uint8Array; view: ManifestView | undefined } | undefined> {
    const stored = await this.#src.manifest(name, reference);
    if (!stored) return undefined;
    const ref = { digest: stored.digest, mediaType: stored.mediaType, size: stored.size };
    const key = `${stored.digest} ${stored.mediaType}`;
    const kept = this.#views.get(key);
    if (kept) return { ref, bytes: stored.bytes, view: kept.view ?? undefined };
    const view = manifestView(stored.bytes, stored.mediaType);
    if (stored.size <= keptManifestBytes) this.#views.set(key, { view: view ?? null });
    return { ref, bytes: stored.bytes, view };
  }

  async #platform(name: string, view: ManifestView): Promise<Platform | undefined> {
    const config = view.config;
    if (!config || config.size > configLimit) return undefined;
    const kept = this.#platforms.get(config.digest);
    if (kept) return kept.platform ?? undefined;
    const bytes = await this.#src.smallBlob(name, config.digest, configLimit);
    // Not kept when unreadable here: another repository may hold it, or it may arrive later.
    if (!bytes) return undefined;
    const platform = configView(bytes)?.platform;
    this.#platforms.set(config.digest, { platform: platform ?? null });
    return platform;
  }

  async describe(name: string, reference: string): Promise<Described | undefined> {
    const found = await this.manifest(name, reference);
    if (!found) return undefined;
    const { ref, bytes, view } = found;
    const d: Described = { ref, bytes, view, total: ref.size, platforms: [] };
    if (!view) return d;
    if (view.kind === 'image') {
      d.total = imageBytes(ref.size, view);
      const platform = await this.#platform(name, view);
      if (platform) d.platforms = [platform];
      return d;
    }
    d.platforms = platformEntries(view).flatMap((m) => (m.platform ? [m.platform] : []));
    const sizes = new Map<string, number>();
    await mapLimit(view.manifests, 4, async (m) => {
      const child = await this.manifest(name, m.digest);
      if (!child) return;
      sizes.set(m.digest, child.ref.size);
      if (child.view?.kind !== 'image') return;
      for (const b of [...(child.view.config ? [child.view.config] : []), ...child.view.layers]) if (b.urls.length === 0) sizes.set(b.digest, b.size);
    });
    d.total = ref.size + [...sizes.values()].reduce((a, b) => a + b, 0);
    return d;
  }
}
