import { LRUCache } from 'lru-cache';
import { digestBytes, formatDigest, parseDigest, sameDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { parseManifest, type ManifestInfo } from '../oci/manifest.ts';
import { asOciError } from '../registry/failures.ts';
import { acceptsManifest, bareMediaType, manifestMediaTypes, namedManifestTypes } from '../oci/media-types.ts';
import { manifestUnknown, type PushedManifest, type Reference, type ServedManifest, type StoredManifest } from '../registry/manifests.ts';
import { readLimited } from '../registry/metered-stream.ts';
import type { RegistryManifests, StoredRegistry } from '../registry/registry.ts';
import type { Outcome } from '../registry/served.ts';
import type { SingleFlight } from '../coordination/types.ts';
import { notThere, upstreamStatus } from './blobs.ts';
import { FleetTurns } from './fleet.ts';
import { mirroredNamespace } from './refuse.ts';
import type { Route, Router } from './router.ts';
import { staleReason } from './stale.ts';
import { discard, type UpstreamResponse } from './upstream.ts';
import type { UsageLog } from './usage.ts';

/**
 * A lookup's result and how it was reached: `stale` says why the upstream could not confirm it.
 * Concurrent pulls share one, so it is never modified once made.
 */
type Found = StoredManifest & { bytes?: Uint8Array<ArrayBuffer>; outcome: Outcome; stale?: string };

/** A manifest fetched from an upstream and checked. */
type Fetched = StoredManifest & { bytes: Uint8Array<ArrayBuffer>; info: ManifestInfo };

/**
 * Every manifest type berth stores: what the upstream is asked for when a tag is cached, so one
 * digest per tag serves every client whose `Accept` admits it. A client whose `Accept` does not is
 * answered by `#byAccept`, which asks the upstream with that client's types.
 */
const accept = manifestMediaTypes.join(', ');

/** What the upstream answered a (tag, manifest types) with: a digest, or nothing those types admit. */
interface Narrowed {
  digest: Digest | undefined;
  at: number;
}

/** An answer meaning "not for this `Accept`" rather than "try later": 4xx but 429. */
const refusal = (status: number): boolean => status >= 400 && status < 500 && status !== 429;

/** The digest an upstream's `Docker-Content-Digest` names, when it names a valid one. */
function namedDigest(res: UpstreamResponse): Digest | undefined {
  const header = res.headers['docker-content-digest'];
  try {
    return header === undefined ? undefined : parseDigest(header);
  } catch {
    return undefined;
  }
}

/**
 * Manifests of mirrored repositories. By digest: stored forever once verified. By tag: served from
 * storage until the upstream's tag TTL passes, then revalidated with a HEAD (free on Docker Hub's
 * rate limit) and fetched again only when the digest changed; served stale, with a `Warning`,
 * when the upstream cannot answer.
 */
export class MirrorManifests implements RegistryManifests {
  readonly #store: StoredRegistry;
  readonly #router: Router;
  readonly #maxBytes: number;
  /** When each mirrored tag was last confirmed by its upstream (ms); after a restart, its file's mtime. */
  readonly #validated = new Map<string, number>();
  /** One upstream conversation per tag or digest at a time; concurrent pulls share its result. */
  readonly #inflight = new Map<string, Promise<Found>>();

  readonly #usage: UsageLog;
  /** Per (tag, manifest types) for clients the tag's manifest does not suit; bounded, kept for the tag TTL. */
  readonly #narrowed = new LRUCache<string, Narrowed>({ max: 10_000 });
  readonly #turns: FleetTurns;

  /** With `flights`, one replica of the fleet asks the upstream about a tag or digest while the others wait for what it stores. */
  constructor(store: StoredRegistry, router: Router, maxBytes: number, usage: UsageLog, flights?: SingleFlight) {
    this.#turns = new FleetTurns(flights);
    this.#store = store;
    this.#usage = usage;
    this.#router = router;
    this.#maxBytes = maxBytes;
  }


  async resolve(name: string, ref: Reference): Promise<StoredManifest | undefined> {
    return this.#store.manifests.resolve(this.#router.route(name)?.local ?? name, ref);
  }

  /** `accept` is the client's: a tag whose cached manifest it does not admit is asked for with it. */
  async stat(name: string, ref: Reference, accept?: string): Promise<ServedManifest> {
    const route = this.#router.route(name);
    if (!route) return this.#store.manifests.stat(name, ref);
    const { bytes: _bytes, ...found } = await this.#answer(route, ref, accept);
    return found;
  }

  async get(name: string, ref: Reference, accept?: string): Promise<ServedManifest & { bytes: Uint8Array<ArrayBuffer> }> {
    const route = this.#router.route(name);
    if (!route) return this.#store.manifests.get(name, ref);
    const { bytes, ...found } = await this.#answer(route, ref, accept);
    if (bytes) return { ...found, bytes };
    const stored = await this.#store.manifests.bytes(found.digest);
    if (stored) return { ...found, bytes: stored };
    // The link outlived its bytes (a retention sweep freed them while this pull began): fetch
    // them again, checked against the digest, rather than answer "unknown" until the link expires.
    const again = await this.#fetch(route, formatDigest(found.digest), found.digest);
    return { ...found, bytes: again.bytes };
  }

  async put(name: string, ref: Reference, bytes: Uint8Array, contentType: string | undefined, extraTags: string[]): Promise<PushedManifest> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return this.#store.manifests.put(name, ref, bytes, contentType, extraTags);
  }

  async delete(name: string, digest: Digest): Promise<void> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return this.#store.manifests.delete(name, digest);
  }

  /**
   * The manifest for this request: the shared answer for the tag or digest, unless the client's
   * `Accept` does not admit a tag's manifest, which `#byAccept` then asks the upstream about.
   */
  async #answer(route: Route, ref: Reference, client: string | undefined): Promise<Found> {
    const found = await this.#lookup(route, ref);
    if (ref.tag === undefined || acceptsManifest(client, found.mediaType)) return found;
    // Not admitted, so the client named manifest types: those are what the upstream is asked for.
    const types = namedManifestTypes(client).join(', ');
    const key = `${route.local}:${ref.tag}|${types}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#byAccept(route, ref.tag, types, found).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    const narrowed = await p;
    if (narrowed !== found) this.#usage.note(route.local, narrowed.digest);
    return narrowed;
  }

  async #lookup(route: Route, ref: Reference): Promise<Found> {
    const key = `${route.local}:${ref.tag ?? formatDigest(ref.digest)}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#inTurn(route, ref).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    const found = await p;
    this.#usage.note(route.local, found.digest, ref.tag);
    return found;
  }

  /**
   * The lookup, going upstream only in this replica's turn in the fleet: a lookup that storage
   * answers needs none, and one that waited for another replica's turn finds its result stored.
   */
  async #inTurn(route: Route, ref: Reference): Promise<Found> {
    const lookup = (): Promise<Found> => (ref.tag === undefined ? this.#byDigest(route, ref.digest) : this.#byTag(route, ref.tag));
    if (!this.#turns.shared || (await this.#answersLocally(route, ref))) return lookup();
    const mine = await this.#turns.take(`manifest:${route.local}:${ref.tag ?? formatDigest(ref.digest)}`, lookup, (p) => p);
    return mine === 'waited' ? lookup() : mine;
  }

  /** Whether storage answers without the upstream: a digest stored, or a tag stored and within its TTL. */
  async #answersLocally(route: Route, ref: Reference): Promise<boolean> {
    const local = await this.#store.manifests.resolve(route.local, ref);
    return local !== undefined && (ref.tag === undefined || (await this.#fresh(route, ref.tag)));
  }

  async #byDigest(route: Route, digest: Digest): Promise<Found> {
    const local = await this.#store.manifests.resolve(route.local, { digest });
    return local ? { ...local, outcome: 'hit' } : this.#fetch(route, formatDigest(digest), digest);
  }

  async #byTag(route: Route, tag: string): Promise<Found> {
    const local = await this.#store.manifests.resolve(route.local, { tag });
    if (local && (await this.#fresh(route, tag))) return { ...local, outcome: 'hit' };
    let head;
    try {
      head = await route.upstream.fetch({ method: 'HEAD', repository: route.remote, path: `manifests/${tag}`, accept });
    } catch (e) {
      if (local) return this.#stale(route, local, e);
      throw e;
    }
    if (notThere(head.status)) throw manifestUnknown(tag);
    if (head.status !== 200) {
      if (local) return this.#stale(route, local, upstreamStatus(route, head.status));
      throw upstreamStatus(route, head.status);
    }
    if (local && head.headers['docker-content-digest'] === formatDigest(local.digest)) {
      this.#validated.set(`${route.local}:${tag}`, Date.now());
      return { ...local, outcome: 'revalidated' };
    }
    try {
      return await this.#fetch(route, tag, undefined);
    } catch (e) {
      // Upstream refusing, or storage failing to take the new copy: what we have is still good. The
      // Warning says what happened in the spec's words, never storage's detail (keys, hosts).
      const known = asOciError(e);
      if (local && known && known.status >= 429) return this.#stale(route, local, known);
      throw e;
    }
  }

  async #fresh(route: Route, tag: string): Promise<boolean> {
    const key = `${route.local}:${tag}`;
    let at = this.#validated.get(key);
    if (at === undefined) {
      at = (await this.#store.tags.writtenAt(route.local, tag))?.getTime() ?? 0;
      this.#validated.set(key, at);
    }
    return Date.now() - at < route.upstream.tagTtl;
  }

  /**
   * A tag for a client whose `Accept` does not admit the tag's cached manifest (an old client and a
   * multi-arch index, say): the upstream is asked with the client's manifest types, as the client
   * would have asked it, and the manifest it answers with is stored by digest (verified, nothing
   * else fetched) and served. The tag keeps pointing at the all-types answer. The answer is kept
   * per (tag, types) for the tag TTL, then revalidated with a HEAD; "nothing these types admit"
   * (a 4xx, or a type the client still refuses) returns `shared`, so the client gets the same
   * refusal as before.
   */
  async #byAccept(route: Route, tag: string, types: string, shared: Found): Promise<Found> {
    const key = `${route.local}:${tag}|${types}`;
    const known = this.#narrowed.get(key);
    const stored = known?.digest ? await this.#store.manifests.resolve(route.local, { digest: known.digest }) : undefined;
    if (known && Date.now() - known.at < route.upstream.tagTtl && (stored || !known.digest)) return stored ? { ...stored, outcome: 'hit' } : shared;
    const answer = (found: Found | undefined): Found => {
      this.#narrowed.set(key, { digest: found?.digest, at: Date.now() });
      return found ?? shared;
    };
    /** The upstream failed (down, 5xx, 429, a bad manifest): the last answer, marked stale, if any. */
    const failed = (why: unknown): Found => {
      if (stored) return this.#stale(route, stored, why);
      throw why;
    };
    const request = { repository: route.remote, path: `manifests/${tag}`, accept: types };

    let head: UpstreamResponse;
    try {
      head = await route.upstream.fetch({ method: 'HEAD', ...request });
    } catch (e) {
      return failed(e);
    }
    if (refusal(head.status)) return answer(undefined);
    if (head.status !== 200) return failed(upstreamStatus(route, head.status));
    // The manifest it names may be here already (one platform of a stored index, or the shared
    // answer again from an upstream that ignores `Accept`): no GET then.
    const named = namedDigest(head);
    const here = named && (await this.#store.manifests.resolve(route.local, { digest: named }));
    if (here) return answer(acceptsManifest(types, here.mediaType) ? { ...here, outcome: 'revalidated' } : undefined);

    let res: UpstreamResponse;
    try {
      res = await route.upstream.fetch({ method: 'GET', ...request });
    } catch (e) {
      return failed(e);
    }
    if (res.status !== 200) {
      await discard(res.body);
      return refusal(res.status) ? answer(undefined) : failed(upstreamStatus(route, res.status));
    }
    let got;
    try {
      got = await this.#verified(route, res, namedDigest(res));
    } catch (e) {
      return failed(e);
    }
    // Still a type the client refuses (an upstream that ignores `Accept`): not worth storing.
    if (!acceptsManifest(types, got.mediaType)) return answer(undefined);
    const { kept: _, ...found } = await this.#keep(route, got);
    return answer(found);
  }

  #stale(route: Route, local: StoredManifest, why: unknown): Found {
    return { ...local, outcome: 'stale', stale: staleReason(route, why) };
  }

  /** GETs a manifest, checks it, and stores it (with the tag, when fetched by tag). */
  async #fetch(route: Route, reference: string, expected: Digest | undefined): Promise<Found & { bytes: Uint8Array<ArrayBuffer> }> {
    const res = await route.upstream.fetch({ method: 'GET', repository: route.remote, path: `manifests/${reference}`, accept });
    if (res.status !== 200) {
      await discard(res.body);
      throw notThere(res.status) ? manifestUnknown(reference) : upstreamStatus(route, res.status);
    }
    const { kept, ...got } = await this.#keep(route, await this.#verified(route, res, expected));
    if (expected === undefined && kept) {
      await this.#store.tags.set(route.local, reference, got.digest);
      this.#validated.set(`${route.local}:${reference}`, Date.now());
    }
    return got;
  }

  /** Reads an upstream's 200 answer: within the size limit, a manifest berth can use, of `expected` when given. */
  async #verified(route: Route, res: UpstreamResponse, expected: Digest | undefined): Promise<Fetched & { outcome: 'miss' }> {
    let bytes: Uint8Array;
    try {
      bytes = await readLimited(res.body, this.#maxBytes);
    } catch (e) {
      throw new OciError('UNAVAILABLE', `upstream ${route.upstream.name} sent an unusable manifest: ${e instanceof Error ? e.message : String(e)}`);
    }
    let info;
    try {
      info = parseManifest(bytes, bareMediaType(res.headers['content-type']));
    } catch (e) {
      // The client sent nothing wrong; a manifest berth cannot read is the upstream's failure.
      throw new OciError('UNAVAILABLE', `upstream ${route.upstream.name} sent a manifest berth cannot use: ${e instanceof Error ? e.message : String(e)}`);
    }
    const digest = digestBytes(bytes, expected?.algorithm);
    if (expected && !sameDigest(digest, expected)) {
      throw new OciError('UNAVAILABLE', `upstream ${route.upstream.name} sent a manifest that does not match its digest`, {
        detail: { expected: formatDigest(expected), actual: formatDigest(digest) },
      });
    }
    const copy = new Uint8Array(bytes);
    return { digest, mediaType: info.mediaType, size: copy.byteLength, bytes: copy, info, outcome: 'miss' };
  }

  /**
   * Stores it as a push would (Manifests.keep: bytes, link, referrer entry), without a push's check
   * that referenced blobs are here: a mirror fetches those lazily, when a client asks for them.
   * `kept` is false when garbage collection took it as it was stored: it is served all the same.
   */
  async #keep(route: Route, fetched: Fetched & { outcome: 'miss' }): Promise<Found & { bytes: Uint8Array<ArrayBuffer>; kept: boolean }> {
    const { info, ...found } = fetched;
    const kept = await this.#store.manifests.keep(route.local, found.digest, found.bytes, info);
    return { ...found, kept };
  }
}
