/**
 * The endpoints of the distribution spec's API table, told apart by the path alone. The router and
 * the access gate both ask this one table, so they can never disagree about which repository a
 * request acts on. Pure: no HTTP objects.
 */

export type Endpoint = 'base' | 'catalog' | 'tags' | 'manifest' | 'uploads' | 'upload' | 'blob' | 'referrers';

/** The path's parameters, percent-decoded as Hono decodes a path parameter; not validated. */
export interface PathParams {
  /** The repository name (every endpoint but the base and the catalog). */
  name?: string;
  /** `/manifests/<reference>`: a tag or a digest. */
  reference?: string;
  /** `/blobs/<digest>`, `/referrers/<digest>`. */
  digest?: string;
  /** `/blobs/uploads/<id>`. */
  id?: string;
}

export interface EndpointMatch {
  endpoint: Endpoint;
  /** The endpoint as a route pattern, `/v2/<name>/manifests/<reference>`: a label of bounded cardinality. */
  route: string;
  params: PathParams;
}

type Last = keyof Omit<PathParams, 'name'>;

// Repository names contain slashes, so the name is a greedy match: everything before the last
// occurrence of the endpoint's own segments. The first entry that matches wins, so the order
// decides the paths two entries could read (`/blobs/uploads` is an upload, not a blob).
const table: ReadonlyArray<{ endpoint: Endpoint; route: string; pattern: RegExp; last?: Last }> = [
  { endpoint: 'tags', route: '/v2/<name>/tags/list', pattern: /^\/v2\/(.+)\/tags\/list$/ },
  { endpoint: 'manifest', route: '/v2/<name>/manifests/<reference>', pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/, last: 'reference' },
  { endpoint: 'uploads', route: '/v2/<name>/blobs/uploads/', pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/ },
  { endpoint: 'upload', route: '/v2/<name>/blobs/uploads/<id>', pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, last: 'id' },
  { endpoint: 'blob', route: '/v2/<name>/blobs/<digest>', pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, last: 'digest' },
  { endpoint: 'referrers', route: '/v2/<name>/referrers/<digest>', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, last: 'digest' },
];

function decode(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Which endpoint `path` (as the router sees it: no query) names, or undefined for none. */
export function matchEndpoint(path: string): EndpointMatch | undefined {
  if (path === '/v2/') return { endpoint: 'base', route: '/v2/', params: {} };
  if (path === '/v2/_catalog') return { endpoint: 'catalog', route: '/v2/_catalog', params: {} };
  if (!path.startsWith('/v2/')) return undefined;
  for (const { endpoint, route, pattern, last } of table) {
    const m = pattern.exec(path);
    if (!m) continue;
    const params: PathParams = { name: decode(m[1]!) };
    if (last !== undefined) params[last] = decode(m[2]!);
    return { endpoint, route, params };
  }
  return undefined;
}
