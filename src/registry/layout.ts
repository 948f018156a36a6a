import type { Digest } from '../oci/digest.ts';

/**
 * The storage layout (DESIGN.md), the same on every driver. Callers pass validated names, tags
 * and digests; drivers still refuse any key with `.`/`..` segments.
 */
export const layout = {
  blob: (d: Digest): string => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  repositories: 'repositories',
  repository: (name: string): string => `repositories/${name}`,
  blobLink: (name: string, d: Digest): string => `repositories/${name}/_blobs/${d.algorithm}/${d.hex}`,
  manifestLinks: (name: string): string => `repositories/${name}/_manifests`,
  manifestLink: (name: string, d: Digest): string => `repositories/${name}/_manifests/${d.algorithm}/${d.hex}`,
  tags: (name: string): string => `repositories/${name}/_tags`,
  tag: (name: string, tag: string): string => `repositories/${name}/_tags/${tag}`,
  /** When the repository's tags and manifests were last pulled: one small object, rewritten in batches (usage.ts). */
  pulls: (name: string): string => `repositories/${name}/_pulls`,
  referrers: (name: string, subject: Digest): string => `repositories/${name}/_referrers/${subject.algorithm}/${subject.hex}`,
  referrer: (name: string, subject: Digest, d: Digest): string =>
    `repositories/${name}/_referrers/${subject.algorithm}/${subject.hex}/${d.algorithm}-${d.hex}`,
  uploads: '_uploads',
  upload: (id: string): string => `_uploads/${id}`,
  uploadInfo: (id: string): string => `_uploads/${id}/info`,
  uploadData: (id: string): string => `_uploads/${id}/data`,
  /** A garbage collection's marker (src/registry/collections.ts), one per run in progress. */
  collections: '_gc/runs',
  collection: (id: string): string => `_gc/runs/${id}`,
  /** Tombstones: what a collection is about to delete, one empty object per digest, under its run's id. */
  allDoomed: '_gc/doomed',
  doomedBy: (id: string): string => `_gc/doomed/${id}`,
  doomed: (id: string, d: Digest): string => `_gc/doomed/${id}/${d.algorithm}-${d.hex}`,
} as const;

/**
 * What a storage key holds, for traces, which must not carry the key itself (it names
 * repositories and digests).
 */
export function keyKind(key: string): string {
  if (key.startsWith('blobs/') || key === 'blobs') return 'blob';
  if (key.startsWith('_uploads/') || key === '_uploads') return 'upload';
  if (key.startsWith('_gc/')) return 'collection';
  if (!key.startsWith('repositories/')) return key === 'repositories' ? 'repository' : 'other';
  const marker = /\/_(manifests|blobs|tags|referrers|pulls)(?:\/|$)/.exec(key)?.[1];
  return marker === undefined ? 'repository' : linkKinds[marker]!;
}

/**
 * The repository whose mutable state (tags, links, referrer entries) a key holds; undefined for
 * every other key. Replicas version their caches per repository (src/cache/driver.ts).
 */
export function repositoryOfKey(key: string): string | undefined {
  if (!key.startsWith('repositories/')) return undefined;
  const marker = /\/_(?:manifests|blobs|tags|referrers|pulls)(?:\/|$)/.exec(key);
  return marker ? key.slice('repositories/'.length, marker.index) : undefined;
}

const linkKinds: Record<string, string> = { manifests: 'manifest-link', blobs: 'blob-link', tags: 'tag', referrers: 'referrer', pulls: 'pull-times' };

/** Entries of a repository directory that are berth's own, never part of a repository name. */
export const repositoryMarkers = new Set(['_manifests', '_blobs', '_tags', '_referrers']);
