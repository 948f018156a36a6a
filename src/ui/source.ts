/**
 * The UI's one window onto the registry: everything the pages read or change goes through here,
 * through the registry's public API only. Reads use the stored registry the mirror decorates (the
 * served one itself without a mirror), so browsing never asks an upstream, never counts as a pull
 * for the mirror's retention, and shows what is stored; changes go through the registry the API
 * serves, so its layers (the mirror's refusals) apply to them as to any client.
 */
import { formatDigest, looksLikeDigest, parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { isOciError } from '../oci/errors.ts';
import { isTag, validateName } from '../oci/names.ts';
import type { Router } from '../mirror/router.ts';
import { readLimited } from '../registry/metered-stream.ts';
import { maxPageSize } from '../registry/paging.ts';
import type { Reference } from '../registry/manifests.ts';
import type { Registry, StoredRegistry } from '../registry/registry.ts';
import { toSeconds } from '../config/duration.ts';

export interface ManifestRef {
  digest: string;
  mediaType: string;
  size: number;
}

export interface UpstreamInfo {
  name: string;
  url: string;
  /** `/v2/<prefix>/...` reaches it. */
  prefix: string;
  tagTtlSeconds: number;
  isDefault: boolean;
}

export interface Mirrored {
  upstream: string;
  /** The repository's name on the upstream. */
  remote: string;
}

export interface RegistrySource {
  /** Every repository holding a manifest, in lexical order. */
  repositories(): Promise<string[]>;
  /** The upstream a stored repository mirrors, or undefined for a local push repository. */
  mirrorOf(name: string): Mirrored | undefined;
  /** The upstream a repository name (as clients ask for it) is routed to. */
  upstreamOf(name: string): string | undefined;
  upstreams(): UpstreamInfo[];
  exists(name: string): Promise<boolean>;
  /** Tags stored here, lexical; a mirrored repository's are the ones cached. */
  tags(name: string): Promise<string[]>;
  /** A tag or a digest. */
  resolve(name: string, reference: string): Promise<ManifestRef | undefined>;
  /** A tag or a digest, with the manifest's bytes. */
  manifest(name: string, reference: string): Promise<(ManifestRef & { bytes: Uint8Array }) | undefined>;
  blobSize(name: string, digest: string): Promise<number | undefined>;
  /** A blob's bytes when it is at most `limit` long (configs, small artifacts). */
  smallBlob(name: string, digest: string, limit: number): Promise<Uint8Array | undefined>;
  blobStream(name: string, digest: string): Promise<ReadableStream<Uint8Array> | undefined>;
  referrers(name: string, digest: string): Promise<Descriptor[]>;
  tagsPointingAt(name: string, digest: string): Promise<string[]>;
  /** False when there was no such tag. */
  deleteTag(name: string, tag: string): Promise<boolean>;
  deleteManifest(name: string, digest: string): Promise<void>;
}

const digestOf = (s: string): Digest | undefined => {
  try {
    return looksLikeDigest(s) ? parseDigest(s) : undefined;
  } catch {
    return undefined;
  }
};

/** A tag or a digest as the registry takes it, or undefined when it is neither. */
function referenceOf(s: string): Reference | undefined {
  const digest = digestOf(s);
  return digest ? { digest } : !looksLikeDigest(s) && isTag(s) ? { tag: s } : undefined;
}

/** A valid repository name, else undefined (the pages answer 404 for anything else). */
export function repositoryName(s: string): string | undefined {
  try {
    return validateName(s);
  } catch {
    return undefined;
  }
}

/**
 * `registry` is the one the API serves, `plain` the stored registry under it; `mirror`: the mirror's
 * router and its default upstream's name, when a mirror is configured.
 */
export function registrySource(registry: Registry, plain: StoredRegistry, mirror?: { router: Router; defaultUpstream?: string | undefined }): RegistrySource {
  const router = mirror?.router;
  const mirrorOf = (name: string): Mirrored | undefined => {
    const route = router?.route(name);
    // Stored mirrored content lives under `<prefix>/<remote>`; a local name the default upstream
    // would claim (e.g. pushed before the mirror was configured) is not the mirror's.
    return route && route.local === name ? { upstream: route.upstream.name, remote: route.remote } : undefined;
  };
  return {
    async repositories() {
      const names: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await plain.catalog(last === undefined ? { n: maxPageSize } : { n: maxPageSize, last });
        names.push(...page.items);
        if (page.next === undefined) return names;
        last = page.next;
      }
    },
    mirrorOf,
    upstreamOf: (name) => router?.route(name)?.upstream.name,
    upstreams: () =>
      (router?.upstreams ?? []).map((u) => ({
        name: u.name,
        url: u.url.href.replace(/\/$/, ''),
        prefix: u.prefix,
        tagTtlSeconds: toSeconds(u.tagTtl),
        isDefault: u.name === mirror?.defaultUpstream,
      })),
    exists: (name) => plain.repositoryExists(name),
    tags: (name) => plain.tags.all(name),
    async resolve(name, reference) {
      const ref = referenceOf(reference);
      const found = ref && (await plain.manifests.resolve(name, ref));
      return found && { digest: formatDigest(found.digest), mediaType: found.mediaType, size: found.size };
    },
    async manifest(name, reference) {
      const ref = referenceOf(reference);
      if (!ref) return undefined;
      try {
        const found = await plain.manifests.get(name, ref);
        return { digest: formatDigest(found.digest), mediaType: found.mediaType, size: found.size, bytes: found.bytes };
      } catch (e) {
        if (isOciError(e) && e.code === 'MANIFEST_UNKNOWN') return undefined;
        throw e;
      }
    },
    async blobSize(name, digest) {
      const d = digestOf(digest);
      return d && (await plain.blobs.find(name, d))?.size;
    },
    async smallBlob(name, digest, limit) {
      const d = digestOf(digest);
      const found = d && (await plain.blobs.find(name, d));
      if (!d || !found || found.size > limit) return undefined;
      try {
        return await readLimited(await plain.blobs.read(name, d), limit);
      } catch {
        return undefined;
      }
    },
    async blobStream(name, digest) {
      const d = digestOf(digest);
      if (!d || !(await plain.blobs.find(name, d))) return undefined;
      return plain.blobs.read(name, d);
    },
    async referrers(name, digest) {
      const d = digestOf(digest);
      return d ? (await plain.listReferrers(name, d, { n: maxPageSize })).items : [];
    },
    async tagsPointingAt(name, digest) {
      const d = digestOf(digest);
      return d ? plain.tags.pointingAt(name, d) : [];
    },
    deleteTag: (name, tag) => registry.tags.delete(name, tag),
    async deleteManifest(name, digest) {
      await registry.manifests.delete(name, parseDigest(digest));
    },
  };
}
