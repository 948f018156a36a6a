import type { Algorithm, Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { Page, PageRequest } from '../registry/paging.ts';
import type { ReferrersResult, Registry, RegistryTags, RegistryUploads, StoredRegistry } from '../registry/registry.ts';
import type { BlobInfo } from '../registry/blobs.ts';
import { readLimited } from '../registry/metered-stream.ts';
import type { Served } from '../registry/served.ts';
import type { Chunk, UploadSession, Uploads } from '../registry/uploads.ts';
import { MirrorBlobs, notThere, upstreamStatus } from './blobs.ts';
import { MirrorManifests } from './manifests.ts';
import { MirrorReferrers } from './referrers.ts';
import { mirroredNamespace } from './refuse.ts';
import type { Route, Router } from './router.ts';
import { staleReason } from './stale.ts';
import { discard, unavailable } from './upstream.ts';
import type { UsageLog } from './usage.ts';

/** An upstream's page of tags is read up to this size (a thousand long tags are far below it). */
const maxListBytes = 4 << 20;
const text = new TextDecoder();

/** Tags of mirrored repositories: listed by the upstream, never deleted here. */
class MirrorTags implements RegistryTags {
  readonly #store: StoredRegistry;
  readonly #router: Router;

  constructor(store: StoredRegistry, router: Router) {
    this.#store = store;
    this.#router = router;
  }

  resolve(name: string, tag: string): Promise<Digest | undefined> {
    return this.#store.tags.resolve(this.#router.route(name)?.local ?? name, tag);
  }

  async delete(name: string, tag: string): Promise<boolean> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return this.#store.tags.delete(name, tag);
  }

  async list(name: string, request: PageRequest): Promise<Page<string> & Served> {
    const route = this.#router.route(name);
    if (!route) return this.#store.tags.list(name, request);
    let failure: OciError;
    try {
      return { ...(await this.#upstreamList(route, name, request)), outcome: 'miss' };
    } catch (e) {
      if (e instanceof OciError && e.code === 'NAME_UNKNOWN') throw e;
      failure = e instanceof OciError ? e : unavailable(route.upstream.name, e);
    }
    // The upstream cannot list: the tags this mirror holds are the next best answer, said to be
    // stale. Holding none, it has nothing to say but the upstream's failure.
    const held = await this.#store.tags.list(route.local, request);
    if (held.items.length === 0 && request.last === undefined) throw failure;
    return { ...held, outcome: 'stale', stale: staleReason(route, failure) };
  }

  async #upstreamList(route: Route, name: string, request: PageRequest): Promise<Page<string>> {
    const query = new URLSearchParams();
    if (request.n !== undefined) query.set('n', String(request.n));
    if (request.last !== undefined) query.set('last', request.last);
    const res = await route.upstream.fetch({ method: 'GET', repository: route.remote, path: `tags/list?${query}`, accept: 'application/json' });
    if (res.status !== 200) {
      await discard(res.body);
      if (notThere(res.status)) throw new OciError('NAME_UNKNOWN', 'repository name not known to the upstream', { detail: { name } });
      throw upstreamStatus(route, res.status);
    }
    let tags: unknown;
    try {
      tags = (JSON.parse(text.decode(await readLimited(res.body, maxListBytes))) as { tags?: unknown }).tags;
    } catch {
      throw new OciError('UNAVAILABLE', `upstream ${route.upstream.name} sent an unusable tag list`, { detail: { upstream: route.upstream.name } });
    }
    const items = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    // The upstream's Link is not passed on; a short page means the end, a full one invites `last`.
    return request.n !== undefined && items.length >= request.n && items.length > 0 ? { items, next: items[items.length - 1] } : { items };
  }
}

/** Uploads refused in mirrored repositories; the rest is the registry's. */
class MirrorUploads implements RegistryUploads {
  readonly #uploads: Uploads;
  readonly #router: Router;

  constructor(store: StoredRegistry, router: Router) {
    this.#uploads = store.uploads;
    this.#router = router;
  }

  status(name: string, id: string, owner?: string): Promise<UploadSession> {
    return this.#uploads.status(name, id, owner);
  }

  append(name: string, id: string, chunk: Chunk, owner?: string): Promise<UploadSession> {
    return this.#uploads.append(name, id, chunk, owner);
  }

  finish(name: string, id: string, digest: Digest, chunk?: Chunk, owner?: string): Promise<BlobInfo> {
    return this.#uploads.finish(name, id, digest, chunk, owner);
  }

  cancel(name: string, id: string, owner?: string): Promise<void> {
    return this.#uploads.cancel(name, id, owner);
  }

  async start(name: string, algorithm: Algorithm, owner?: string): Promise<UploadSession> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return this.#uploads.start(name, algorithm, owner);
  }
}

/**
 * The registry decorated with the mirror (DESIGN: a Registry decorator), holding the stored
 * registry it writes through: repositories the router sends to an upstream are read-through
 * caches of it, stored under their local names; every other name is the stored registry's own.
 */
export class MirrorRegistry implements Registry {
  readonly blobs: MirrorBlobs;
  readonly tags: MirrorTags;
  readonly uploads: MirrorUploads;
  readonly manifests: MirrorManifests;
  readonly router: Router;
  readonly #store: StoredRegistry;
  readonly #referrers: MirrorReferrers;

  constructor(store: StoredRegistry, router: Router, maxManifestBytes: number, usage: UsageLog, onReferrersFallback?: (upstream: string) => void) {
    this.#store = store;
    this.router = router;
    this.blobs = new MirrorBlobs(store, router);
    this.tags = new MirrorTags(store, router);
    this.uploads = new MirrorUploads(store, router);
    this.manifests = new MirrorManifests(store, router, maxManifestBytes, usage);
    this.#referrers = new MirrorReferrers(store, this.manifests, { maxBytes: maxManifestBytes, onFallback: onReferrersFallback });
  }

  /** A mirrored repository exists as far as the upstream says; its listing asks it. */
  async repositoryExists(name: string): Promise<boolean> {
    return this.router.route(name) !== undefined || this.#store.repositoryExists(name);
  }

  catalog(request: PageRequest): Promise<Page<string>> {
    return this.#store.catalog(request);
  }

  /** Mirrored repositories: the upstream's referrers (MirrorReferrers); the rest, what the stored registry recorded. */
  listReferrers(name: string, subject: Digest, request: PageRequest & { artifactType?: string }): Promise<ReferrersResult> {
    const route = this.router.route(name);
    return route ? this.#referrers.list(route, name, subject, request) : this.#store.listReferrers(name, subject, request);
  }
}
