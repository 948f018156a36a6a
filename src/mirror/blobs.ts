import { formatDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { ByteRange } from '../oci/range.ts';
import { blobUnknown, type BlobInfo } from '../registry/blobs.ts';
import type { RegistryBlobs, StoredRegistry } from '../registry/registry.ts';
import type { Served } from '../registry/served.ts';
import type { SingleFlight } from '../coordination/types.ts';
import { Fill, Fills } from './fill.ts';
import { FleetTurns } from './fleet.ts';
import { wasCollected } from '../registry/uploads.ts';
import { mirroredNamespace } from './refuse.ts';
import type { Route, Router } from './router.ts';
import { discard, unavailable } from './upstream.ts';

/**
 * Memory per fill: a reader may queue this much before it is moved to reading from storage after
 * the commit, and the first bytes are kept this long for readers arriving just after the start
 * (a HEAD then a GET, or pulls a moment apart).
 */
const readerBuffer = 4 << 20;
const replayBuffer = 1 << 20;

/**
 * Blobs of mirrored repositories: served from storage once there, else fetched from the upstream
 * once however many clients ask, streamed to them while it is written (through the registry's own
 * upload sessions) and verified. Local names go straight to the registry's blobs.
 */
export class MirrorBlobs implements RegistryBlobs {
  readonly #stored: StoredRegistry;
  readonly #router: Router;
  readonly #fills = new Fills();
  readonly #turns: FleetTurns;
  /** Digests being filled: their files are not on disk yet, whatever the path says. */
  readonly #filling = new Map<string, number>();

  /** With `flights`, one replica of the fleet fetches a blob and the others read it from storage once stored. */
  constructor(store: StoredRegistry, router: Router, flights?: SingleFlight) {
    this.#stored = store;
    this.#router = router;
    this.#turns = new FleetTurns(flights);
  }

  async stat(name: string, digest: Digest): Promise<BlobInfo & Served> {
    const route = this.#router.route(name);
    if (!route) return this.#stored.blobs.stat(name, digest);
    const local = await this.#stored.blobs.find(route.local, digest);
    if (local) return { ...local, outcome: 'hit' };
    const running = this.#fills.get(fillKey(route, digest));
    const adopted = !running && (await this.#stored.blobs.exists(digest)) ? await this.#adopt(route, digest) : undefined;
    if (adopted) return { ...adopted, outcome: 'miss' };
    const fill = running ?? (await this.#fill(route, digest));
    // Another replica fetched it while this one waited.
    if (!fill) return { ...(await this.#stored.blobs.stat(route.local, digest)), outcome: 'miss' };
    const { size } = await fill.ready;
    // An empty answer has no last byte to hold back until the digest is verified: it waits for it.
    if (size !== undefined && size > 0) return { digest, size, outcome: 'miss' };
    await fill.done.catch((e: unknown) => {
      throw unavailable(route.upstream.name, e);
    });
    return { ...(await this.#stored.blobs.stat(route.local, digest)), outcome: 'miss' };
  }

  async find(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    return this.#stored.blobs.find(this.#router.route(name)?.local ?? name, digest);
  }

  async read(name: string, digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const route = this.#router.route(name);
    if (!route) return this.#stored.blobs.read(name, digest, range);
    const running = this.#fills.get(fillKey(route, digest));
    if (running) return running.reader(range);
    if (await this.#stored.blobs.find(route.local, digest)) return this.#stored.blobs.read(route.local, digest, range);
    const fill = await this.#fill(route, digest);
    if (!fill) return this.#stored.blobs.read(route.local, digest, range);
    await fill.ready;
    return fill.reader(range);
  }

  localFile(digest: Digest): string | undefined {
    return this.#filling.has(formatDigest(digest)) ? undefined : this.#stored.blobs.localFile(digest);
  }

  /** None while a fill runs: its object is not committed yet, so its readers stream from the fill. */
  async url(digest: Digest): Promise<string | undefined> {
    return this.#filling.has(formatDigest(digest)) ? undefined : this.#stored.blobs.url(digest);
  }

  /** Mirrored names take the long way (`stat`, then `read`): a blob may have to be fetched first. */
  async open(name: string, digest: Digest): Promise<(BlobInfo & { body: ReadableStream<Uint8Array> }) | undefined> {
    return this.#router.route(name) ? undefined : this.#stored.blobs.open(name, digest);
  }

  /** Mirrored names take the long way (`stat`, then `url`): a blob may have to be fetched first. */
  async redirect(name: string, digest: Digest): Promise<string | undefined> {
    return this.#router.route(name) ? undefined : this.#stored.blobs.redirect(name, digest);
  }

  async delete(name: string, digest: Digest): Promise<void> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return this.#stored.blobs.delete(name, digest);
  }

  /** A repository the caller may pull that links the blob, for a mount without `from` (stored names). */
  visibleSource(digest: Digest, visible: (name: string) => boolean): Promise<string | undefined> {
    return this.#stored.blobs.visibleSource(digest, visible);
  }

  async mount(name: string, digest: Digest, from?: string): Promise<BlobInfo | undefined> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    // A local repository may mount from a mirrored one, stored under its local name.
    return this.#stored.blobs.mount(name, digest, from === undefined ? undefined : (this.#router.route(from)?.local ?? from));
  }

  /**
   * The bytes are here already (another repository fetched them): link them once the upstream
   * confirms this repository has the blob, so one repository's pull never reveals another's blobs.
   * Undefined when they went meanwhile, or garbage collection is taking them (the link then
   * stays for it to remove): the caller fetches them again.
   */
  async #adopt(route: Route, digest: Digest): Promise<BlobInfo | undefined> {
    const res = await route.upstream.fetch({ method: 'HEAD', repository: route.remote, path: `blobs/${formatDigest(digest)}` });
    if (notThere(res.status)) throw blobUnknown(digest);
    if (res.status !== 200) throw upstreamStatus(route, res.status);
    return this.#stored.blobs.mount(route.local, digest);
  }

  /**
   * The fill of a blob not stored here: running on this replica, or started once it is this
   * replica's turn in the fleet; undefined when another replica's turn stored it meanwhile.
   */
  async #fill(route: Route, digest: Digest): Promise<Fill | undefined> {
    const key = fillKey(route, digest);
    // A turn that ended without storing the blob (its upstream failed) lets the next one try.
    for (let round = 0; round < 3; round++) {
      const running = this.#fills.get(key);
      if (running) return running;
      const fill = await this.#turns.take(key, () => this.#start(route, digest), (f) => f.done);
      if (fill !== 'waited') return fill;
      if (await this.#stored.blobs.find(route.local, digest)) return undefined;
    }
    return this.#start(route, digest);
  }

  #start(route: Route, digest: Digest): Fill {
    return this.#fills.join(fillKey(route, digest), () => {
      const key = formatDigest(digest);
      this.#filling.set(key, (this.#filling.get(key) ?? 0) + 1);
      const fill = new Fill(() => this.#open(route, digest), {
        store: (body, size) => this.#store(route, digest, body, size),
        readStored: (range) => this.#stored.blobs.read(route.local, digest, range),
        readerBuffer,
        replayBuffer,
      });
      const done = (): void => {
        const n = (this.#filling.get(key) ?? 1) - 1;
        if (n === 0) this.#filling.delete(key);
        else this.#filling.set(key, n);
      };
      fill.done.then(done, done);
      return fill;
    });
  }

  async #open(route: Route, digest: Digest): Promise<{ size: number | undefined; body: ReadableStream<Uint8Array> }> {
    const res = await route.upstream.fetch({ method: 'GET', repository: route.remote, path: `blobs/${formatDigest(digest)}` });
    if (res.status !== 200 || !res.body) {
      await discard(res.body);
      throw notThere(res.status) ? blobUnknown(digest) : upstreamStatus(route, res.status);
    }
    const length = res.headers['content-length'];
    return { size: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined, body: res.body };
  }

  /** Through an upload session: hashed while written, committed only if the digest matches. */
  async #store(route: Route, digest: Digest, body: ReadableStream<Uint8Array>, size: number | undefined): Promise<void> {
    const uploads = this.#stored.uploads;
    const session = await uploads.start(route.local, digest.algorithm);
    try {
      await uploads.finish(route.local, session.id, digest, size === undefined ? { body } : { body, length: size });
    } catch (e) {
      // Verified, but a collection (gc or retention) was deleting this digest as it was kept: the
      // clients of this fill have the right bytes; the next pull fetches it again.
      if (wasCollected(e)) return;
      await uploads.cancel(route.local, session.id).catch(() => undefined);
      // Cut off, reset, or bytes that do not hash to the digest: the upstream failed, not the client.
      throw unavailable(route.upstream.name, new Error(`download of ${formatDigest(digest)} failed: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}

const fillKey = (route: Route, digest: Digest): string => `${route.local}@${formatDigest(digest)}`;

/**
 * The upstream has no such thing for us: 404, or 401/403 after the token dance, which is how
 * Docker Hub answers for a repository that does not exist (or that our credentials cannot read).
 */
export const notThere = (status: number): boolean => status === 404 || status === 401 || status === 403;

/** An upstream answer we cannot pass on as it is: 429 stays 429, anything else is the upstream failing. */
export function upstreamStatus(route: Route, status: number): OciError {
  if (status === 429) return new OciError('TOOMANYREQUESTS', `upstream ${route.upstream.name} is rate limiting`, { detail: { upstream: route.upstream.name } });
  return new OciError('UNAVAILABLE', `upstream ${route.upstream.name} answered ${status}`, { detail: { upstream: route.upstream.name, status } });
}
