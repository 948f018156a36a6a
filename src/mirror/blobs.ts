import { formatDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { ByteRange } from '../oci/range.ts';
import { blobUnknown, Blobs, type BlobInfo } from '../registry/blobs.ts';
import { layout } from '../registry/layout.ts';
import { Uploads } from '../registry/uploads.ts';
import type { Driver } from '../storage/driver.ts';
import { Fill, Fills } from './fill.ts';
import { mirroredNamespace } from './refuse.ts';
import type { Route, Router } from './router.ts';
import { discard, unavailable } from './upstream.ts';
import { noteOutcome } from './context.ts';

/**
 * Memory per fill: a reader may queue this much before it is moved to reading from storage after
 * the commit, and the first bytes are kept this long for readers arriving just after the start
 * (a HEAD then a GET, or pulls a moment apart).
 */
const readerBuffer = 4 << 20;
const replayBuffer = 1 << 20;

/**
 * Blobs of mirrored repositories: served from storage once there, else fetched from the upstream
 * once however many clients ask, streamed to them while it is written and verified.
 */
export class MirrorBlobs extends Blobs {
  readonly #driver: Driver;
  readonly #router: Router;
  /** Upload sessions for fills: the upload path verifies the digest before it commits. */
  readonly #uploads: Uploads;
  readonly #fills = new Fills();
  /** Digests being filled: their files are not on disk yet, whatever the path says. */
  readonly #filling = new Map<string, number>();

  constructor(driver: Driver, router: Router) {
    super(driver);
    this.#driver = driver;
    this.#router = router;
    this.#uploads = new Uploads(driver, new Blobs(driver));
  }

  override async stat(name: string, digest: Digest): Promise<BlobInfo> {
    const route = this.#router.route(name);
    if (!route) return super.stat(name, digest);
    const local = await super.find(route.local, digest);
    if (local) {
      noteOutcome('hit');
      return local;
    }
    noteOutcome('miss');
    const running = this.#fills.get(fillKey(route, digest));
    if (!running && (await this.exists(digest))) return this.#adopt(route, digest);
    const fill = running ?? this.#start(route, digest);
    const { size } = await fill.ready;
    // An empty answer has no last byte to hold back until the digest is verified: it waits for it.
    if (size !== undefined && size > 0) return { digest, size };
    await fill.done.catch((e: unknown) => {
      throw unavailable(route.upstream.name, e);
    });
    return super.stat(route.local, digest);
  }

  override async find(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    return super.find(this.#router.route(name)?.local ?? name, digest);
  }

  override async read(name: string, digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const route = this.#router.route(name);
    if (!route) return super.read(name, digest, range);
    const running = this.#fills.get(fillKey(route, digest));
    if (running) return running.reader(range);
    if (await super.find(route.local, digest)) return super.read(route.local, digest, range);
    const fill = this.#start(route, digest);
    await fill.ready;
    return fill.reader(range);
  }

  override localFile(digest: Digest): string | undefined {
    return this.#filling.has(formatDigest(digest)) ? undefined : super.localFile(digest);
  }

  override async delete(name: string, digest: Digest): Promise<void> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return super.delete(name, digest);
  }

  override async mount(name: string, digest: Digest, from?: string): Promise<BlobInfo | undefined> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    // A local repository may mount from a mirrored one: `find` maps that name to where it is stored.
    return super.mount(name, digest, from);
  }

  /**
   * The bytes are here already (another repository fetched them): link them once the upstream
   * confirms this repository has the blob, so one repository's pull never reveals another's blobs.
   */
  async #adopt(route: Route, digest: Digest): Promise<BlobInfo> {
    const res = await route.upstream.fetch({ method: 'HEAD', repository: route.remote, path: `blobs/${formatDigest(digest)}` });
    if (notThere(res.status)) throw blobUnknown(digest);
    if (res.status !== 200) throw upstreamStatus(route, res.status);
    await this.link(route.local, digest);
    return super.stat(route.local, digest);
  }

  #start(route: Route, digest: Digest): Fill {
    return this.#fills.join(fillKey(route, digest), () => {
      const key = formatDigest(digest);
      this.#filling.set(key, (this.#filling.get(key) ?? 0) + 1);
      const fill = new Fill(() => this.#open(route, digest), {
        store: (body, size) => this.#store(route, digest, body, size),
        readStored: async (range) => {
          const stream = await this.#driver.read(layout.blob(digest), range);
          if (!stream) throw blobUnknown(digest);
          return stream;
        },
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
    const session = await this.#uploads.start(route.local, digest.algorithm);
    try {
      await this.#uploads.finish(route.local, session.id, digest, size === undefined ? { body } : { body, length: size });
    } catch (e) {
      await this.#uploads.cancel(route.local, session.id).catch(() => undefined);
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
