import { LRUCache } from 'lru-cache';
import { formatDigest, type Digest } from '../oci/digest.ts';
import { isOciError, OciError } from '../oci/errors.ts';
import { parseDescriptor, type Descriptor } from '../oci/manifest.ts';
import { manifestKind, mediaTypes } from '../oci/media-types.ts';
import { asOciError } from '../registry/failures.ts';
import { readLimited } from '../registry/metered-stream.ts';
import { page, type PageRequest } from '../registry/paging.ts';
import { referrersTag } from '../registry/referrers.ts';
import type { ReferrersResult, RegistryManifests, StoredRegistry } from '../registry/registry.ts';
import type { Outcome } from '../registry/served.ts';
import { notThere, upstreamStatus } from './blobs.ts';
import type { Route } from './router.ts';
import { staleReason } from './stale.ts';
import { discard } from './upstream.ts';

/** An upstream's referrers list as last read, and when (ms). */
interface Known {
  descriptors: Descriptor[];
  at: number;
  bytes: number;
}

/**
 * What a request is answered with: a list and how it was reached, or (`descriptors` left out) the
 * referrers stored here, when the upstream failed and this process holds no earlier answer.
 */
interface Listed {
  descriptors?: Descriptor[];
  outcome: Outcome;
  stale?: string;
}

/** What the upstream said: its list, and why it is stale when the tag schema's index was. */
interface Fetched {
  descriptors: Descriptor[];
  bytes: number;
  stale?: string | undefined;
}

/** Pages of one upstream answer followed at most; `Link` cycles end there too. */
const maxPages = 64;
const text = new TextDecoder();

export interface ReferrersOptions {
  /** Largest answer read from an upstream, all its pages together (the manifests' limit). */
  maxBytes: number;
  /** Told when an upstream without the referrers API was read through the referrers tag schema. */
  onFallback?: ((upstream: string) => void) | undefined;
}

/**
 * The referrers API for mirrored repositories. The upstream's list for a subject is kept for the
 * upstream's tag TTL (memory, bounded) and asked for again after it, one request per subject at a
 * time; `artifactType` is filtered and pages are cut here, from the whole list. An upstream without
 * the API (404) is read through the referrers tag schema (`<alg>-<hex>`), as clients do, through the
 * mirror's manifests (cached and revalidated as any tag). The referrer manifests and their blobs
 * are mirrored when a client fetches them, by the manifest and blob paths. When the upstream fails,
 * the last list is served with a `Warning`; with none in memory (after a restart), the referrers
 * stored here (those fetched through the mirror, and a stored tag-schema index).
 */
export class MirrorReferrers {
  readonly #store: StoredRegistry;
  readonly #manifests: RegistryManifests;
  readonly #opts: ReferrersOptions;
  readonly #known = new LRUCache<string, Known>({ max: 10_000, maxSize: 32 << 20, sizeCalculation: (k) => Math.max(1, k.bytes) });
  readonly #inflight = new Map<string, Promise<Listed>>();

  constructor(store: StoredRegistry, manifests: RegistryManifests, opts: ReferrersOptions) {
    this.#store = store;
    this.#manifests = manifests;
    this.#opts = opts;
  }

  /** `name` is the client's, for the tag schema's lookup through the mirror's manifests. */
  async list(route: Route, name: string, subject: Digest, request: PageRequest & { artifactType?: string }): Promise<ReferrersResult> {
    const key = `${route.local}@${formatDigest(subject)}`;
    const known = this.#known.get(key);
    let listed: Listed;
    if (known && Date.now() - known.at < route.upstream.tagTtl) listed = { descriptors: known.descriptors, outcome: 'hit' };
    else {
      let p = this.#inflight.get(key);
      if (!p) {
        p = this.#refresh(route, name, subject, key).finally(() => this.#inflight.delete(key));
        this.#inflight.set(key, p);
      }
      listed = await p;
    }
    if (!listed.descriptors) return { ...(await this.#store.listReferrers(route.local, subject, request)), outcome: listed.outcome, stale: listed.stale };
    let manifests = listed.descriptors;
    const filters: string[] = [];
    if (request.artifactType !== undefined) {
      manifests = manifests.filter((d) => d.artifactType === request.artifactType);
      filters.push('artifactType');
    }
    return { ...page(manifests, request, (d) => d.digest), filters, outcome: listed.outcome, stale: listed.stale };
  }

  async #refresh(route: Route, name: string, subject: Digest, key: string): Promise<Listed> {
    const previous = this.#known.get(key);
    let fetched: Fetched;
    try {
      fetched = await this.#fromUpstream(route, name, subject);
    } catch (e) {
      // Down, refusing, rate limiting, sending garbage, or storage failing to keep the tag
      // schema's index: the last answer is still the best there is.
      const failure = asOciError(e);
      if (!failure || failure.status < 429) throw e;
      const stale = staleReason(route, failure);
      if (previous) return { descriptors: previous.descriptors, outcome: 'stale', stale };
      if ((await this.#store.listReferrers(route.local, subject, { n: 1 })).items.length > 0) return { outcome: 'stale', stale };
      throw failure;
    }
    if (fetched.stale !== undefined) return { descriptors: fetched.descriptors, outcome: 'stale', stale: fetched.stale };
    this.#known.set(key, { descriptors: fetched.descriptors, at: Date.now(), bytes: fetched.bytes });
    const same = previous !== undefined && JSON.stringify(previous.descriptors) === JSON.stringify(fetched.descriptors);
    return { descriptors: fetched.descriptors, outcome: same ? 'revalidated' : 'miss' };
  }

  /** The upstream's whole list, following its `Link` pages within `maxBytes`. */
  async #fromUpstream(route: Route, name: string, subject: Digest): Promise<Fetched> {
    const digest = formatDigest(subject);
    const descriptors: Descriptor[] = [];
    const asked = new Set<string>();
    let bytes = 0;
    for (let path: string | undefined = `referrers/${digest}`; path !== undefined && !asked.has(path) && asked.size < maxPages; ) {
      asked.add(path);
      const res = await route.upstream.fetch({ method: 'GET', repository: route.remote, path, accept: mediaTypes.ociIndex });
      if (res.status !== 200) {
        await discard(res.body);
        // No referrers API (or, 401/403, nothing of this repository for us): the tag schema says the rest.
        if (asked.size === 1 && notThere(res.status)) return this.#fromTag(route, name, subject);
        throw upstreamStatus(route, res.status);
      }
      let body: Uint8Array;
      try {
        body = await readLimited(res.body, this.#opts.maxBytes - bytes);
      } catch (e) {
        // Pages past the limit are left out; a first page past it, or a body cut off, is a failure.
        if (isOciError(e) && e.code === 'SIZE_INVALID' && asked.size > 1) break;
        throw unusable(route);
      }
      bytes += body.byteLength;
      descriptors.push(...listedIn(body, route));
      path = nextPage(res.headers.link, route.remote, digest);
    }
    return { descriptors: unique(descriptors), bytes };
  }

  /** The referrers tag schema's index for `subject`, read (and cached) as a mirrored tag. */
  async #fromTag(route: Route, name: string, subject: Digest): Promise<Fetched> {
    this.#opts.onFallback?.(route.upstream.name);
    let found;
    try {
      found = await this.#manifests.get(name, { tag: referrersTag(subject) });
    } catch (e) {
      if (isOciError(e) && e.code === 'MANIFEST_UNKNOWN') return { descriptors: [], bytes: 0 };
      throw e;
    }
    // A tag of that name holding something else is not a referrers index.
    if (manifestKind(found.mediaType) !== 'index') return { descriptors: [], bytes: 0 };
    return { descriptors: unique(listedIn(found.bytes, route)), bytes: found.bytes.byteLength, stale: found.stale };
  }
}

/** The descriptors an index (a referrers answer or a tag schema index) lists; malformed ones are left out. */
function listedIn(bytes: Uint8Array, route: Route): Descriptor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text.decode(bytes));
  } catch {
    throw unusable(route);
  }
  const manifests = typeof doc === 'object' && doc !== null ? (doc as { manifests?: unknown }).manifests : undefined;
  if (!Array.isArray(manifests)) throw unusable(route);
  const out: Descriptor[] = [];
  for (const [i, d] of manifests.entries()) {
    try {
      const { urls: _urls, ...descriptor } = parseDescriptor(d, `manifests[${i}]`);
      out.push(descriptor);
    } catch {
      // One bad entry does not hide the others.
    }
  }
  return out;
}

const unusable = (route: Route): OciError =>
  new OciError('UNAVAILABLE', `upstream ${route.upstream.name} sent an unusable referrers list`, { detail: { upstream: route.upstream.name } });

const unique = (descriptors: Descriptor[]): Descriptor[] => [...new Map(descriptors.map((d) => [d.digest, d])).values()];

/**
 * The path of the next page a `Link: <...>; rel="next"` names, when it is this subject's referrers
 * on the same upstream (relative, or absolute with the same path): its query carries `last`.
 */
function nextPage(link: string | undefined, remote: string, digest: string): string | undefined {
  const target = link && /<([^>]*)>\s*;\s*rel="?next"?/i.exec(link)?.[1];
  if (!target) return undefined;
  let url: URL;
  try {
    url = new URL(target, 'http://upstream.invalid/');
  } catch {
    return undefined;
  }
  return url.pathname.endsWith(`/v2/${remote}/referrers/${digest}`) && url.search !== '' ? `referrers/${digest}${url.search}` : undefined;
}
