/** Manifest media types berth accepts, and how each lists what it references. */
export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestKind = 'image' | 'index';

const kinds: Record<string, ManifestKind> = {
  [mediaTypes.ociManifest]: 'image',
  [mediaTypes.dockerManifest]: 'image',
  [mediaTypes.ociIndex]: 'index',
  [mediaTypes.dockerManifestList]: 'index',
};

export const manifestKind = (mediaType: string): ManifestKind | undefined => kinds[mediaType];

export const manifestMediaTypes: readonly string[] = Object.keys(kinds);

/** Strips parameters (`; charset=...`) and case from a Content-Type value. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return bare || undefined;
}

/**
 * Whether an `Accept` header admits a manifest of `mediaType`. Like distribution, a manifest is
 * refused only when the client named manifest types and this one is not among them: no header,
 * wildcards, or a header naming no manifest type at all (`application/json`) admit everything.
 */
export function acceptsManifest(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  // Clients send the same few Accept values on every pull; parsing one costs more than the rest of
  // a cached manifest GET's bookkeeping. Long values (client-chosen) are not remembered.
  if (accept.length > 512) return admits(accept, mediaType);
  const key = `${mediaType} ${accept}`;
  let ok = admitted.get(key);
  if (ok === undefined) {
    ok = admits(accept, mediaType);
    if (admitted.size >= 256) admitted.clear();
    admitted.set(key, ok);
  }
  return ok;
}

const admitted = new Map<string, boolean>();

function admits(accept: string, mediaType: string): boolean {
  const [type] = mediaType.split('/', 1);
  let namesManifests = false;
  for (const part of accept.split(',')) {
    const m = bareMediaType(part);
    if (!m) continue;
    if (m === '*/*' || m === mediaType || m === `${type}/*`) return true;
    if (kinds[m] !== undefined) namesManifests = true;
  }
  return !namesManifests;
}

/**
 * The manifest types berth stores that an `Accept` header names, in the header's order, each once
 * and without parameters: what a mirror asks its upstream for on behalf of such a client.
 */
export function namedManifestTypes(accept: string | undefined): string[] {
  const named: string[] = [];
  for (const part of accept?.split(',') ?? []) {
    const m = bareMediaType(part);
    if (m && kinds[m] !== undefined && !named.includes(m)) named.push(m);
  }
  return named;
}
