import type { Registry, RegistryManifests, RegistryTags } from './registry.ts';

/** What a layer changes about a registry: some operations of its tags and manifests. */
export interface Overrides {
  tags?: Partial<RegistryTags>;
  manifests?: Partial<RegistryManifests>;
}

/**
 * The registry with some of its tag and manifest operations replaced and everything else passed
 * through as it is: how policies that watch or guard writes (immutable tags, pull times) wrap the
 * registry HTTP serves without restating its whole interface.
 */
export function decorate(registry: Registry, overrides: Overrides): Registry {
  const { tags, manifests } = registry;
  return {
    blobs: registry.blobs,
    uploads: registry.uploads,
    tags: {
      resolve: overrides.tags?.resolve ?? ((name, tag) => tags.resolve(name, tag)),
      list: overrides.tags?.list ?? ((name, request) => tags.list(name, request)),
      delete: overrides.tags?.delete ?? ((name, tag) => tags.delete(name, tag)),
    },
    manifests: {
      resolve: overrides.manifests?.resolve ?? ((name, ref) => manifests.resolve(name, ref)),
      stat: overrides.manifests?.stat ?? ((name, ref, accept) => manifests.stat(name, ref, accept)),
      get: overrides.manifests?.get ?? ((name, ref, accept) => manifests.get(name, ref, accept)),
      put: overrides.manifests?.put ?? ((name, ref, bytes, contentType, extraTags) => manifests.put(name, ref, bytes, contentType, extraTags)),
      delete: overrides.manifests?.delete ?? ((name, digest) => manifests.delete(name, digest)),
    },
    repositoryExists: (name) => registry.repositoryExists(name),
    catalog: (request) => registry.catalog(request),
    listReferrers: (name, subject, request) => registry.listReferrers(name, subject, request),
  };
}
