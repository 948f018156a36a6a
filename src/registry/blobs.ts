import { formatDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { ByteRange } from '../oci/range.ts';
import type { Driver } from '../storage/driver.ts';
import { Collections } from './collections.ts';
import { layout } from './layout.ts';
import type { Served } from './served.ts';
import { walkRepositories } from './repositories.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * Repositories a mount without `from` looks in before it gives up (and the client uploads): one
 * stat each, one at a time.
 */
const maxMountSources = 1000;

export const blobUnknown = (d: Digest): OciError =>
  new OciError('BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest: formatDigest(d) } });

/**
 * Blobs as a repository sees them: content-addressed bytes shared by all repositories, visible in
 * one only through that repository's link, so pull access to one never reveals another's blobs.
 */
export class Blobs {
  readonly #driver: Driver;
  readonly #collections: Collections;

  constructor(driver: Driver, collections: Collections) {
    this.#driver = driver;
    this.#collections = collections;
  }

  /** The blob's size if this repository may serve it. */
  async stat(name: string, digest: Digest): Promise<BlobInfo & Served> {
    const found = await this.find(name, digest);
    if (!found) throw blobUnknown(digest);
    return found;
  }

  /**
   * The link first, and the bytes only if it is there: a pushing client asks for each blob before
   * it uploads it, and the answer is mostly no, which then costs one storage round trip, not two.
   */
  async find(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    if (!(await this.linked(name, digest))) return undefined;
    const info = await this.#driver.stat(layout.blob(digest));
    return info ? { digest, size: info.size } : undefined;
  }

  /** Whether this repository links the blob (its bytes may still have gone: `find` checks both). */
  async linked(name: string, digest: Digest): Promise<boolean> {
    return (await this.#driver.stat(layout.blobLink(name, digest))) !== undefined;
  }

  async read(name: string, digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const stream = await this.#driver.read(layout.blob(digest), range);
    if (!stream) throw blobUnknown(digest);
    return stream;
  }

  /**
   * The blob's size and bytes if this repository may serve it, from one request after the link's
   * where the driver answers both at once (`open`); undefined where it does not (`stat`, `read`).
   */
  async open(name: string, digest: Digest): Promise<(BlobInfo & { body: ReadableStream<Uint8Array> }) | undefined> {
    if (!this.#driver.open) return undefined;
    if (!(await this.linked(name, digest))) throw blobUnknown(digest);
    const opened = await this.#driver.open(layout.blob(digest));
    if (!opened) throw blobUnknown(digest);
    return { digest, size: opened.size, body: opened.body };
  }

  /** Where the blob's bytes sit on the local disk, when the driver keeps them there. */
  localFile(digest: Digest): string | undefined {
    return this.#driver.localPath?.(layout.blob(digest));
  }

  /**
   * Where a client may fetch the blob's bytes itself for a while (a presigned URL), when the
   * driver hands such URLs out: for a blob `stat` said this repository may serve. The URL names the
   * content-addressed object and nothing else.
   */
  async url(digest: Digest): Promise<string | undefined> {
    return this.#driver.url?.(layout.blob(digest));
  }

  /**
   * Where a client may fetch this repository's blob itself (`url`), when the driver hands such
   * URLs out; undefined when it does not. Only the link is asked for: the store answers the
   * client's GET, its size and its ranges itself, so a redirect costs one storage round trip. The
   * bytes may be gone by the time the client comes for them whatever was checked here (a
   * collection), and the store then answers 404 as berth would.
   */
  async redirect(name: string, digest: Digest): Promise<string | undefined> {
    if (!this.#driver.url) return undefined;
    if (!(await this.linked(name, digest))) throw blobUnknown(digest);
    return this.url(digest);
  }

  /** Removes this repository's link; the bytes stay until garbage collection. */
  async delete(name: string, digest: Digest): Promise<void> {
    if (!(await this.#driver.stat(layout.blobLink(name, digest)))) throw blobUnknown(digest);
    await this.#driver.delete(layout.blobLink(name, digest));
  }

  /** The blob's bytes, whichever repository links them: for storing, never for serving. */
  async exists(digest: Digest): Promise<BlobInfo | undefined> {
    const info = await this.#driver.stat(layout.blob(digest));
    return info ? { digest, size: info.size } : undefined;
  }

  async link(name: string, digest: Digest): Promise<void> {
    await this.#driver.put(layout.blobLink(name, digest), formatDigest(digest));
  }

  /**
   * A repository linking the blob that `visible` lets the caller read, if one is found among the
   * first repositories that hold blobs: where a mount without `from` may link it from when access
   * control is on, so it never reveals a blob of a repository the caller cannot pull.
   */
  async visibleSource(digest: Digest, visible: (name: string) => boolean): Promise<string | undefined> {
    if (!(await this.exists(digest))) return undefined;
    let looked = 0;
    for await (const name of walkRepositories(this.#driver, (entries) => entries.includes('_blobs'))) {
      if (!visible(name)) continue;
      if (await this.#driver.stat(layout.blobLink(name, digest))) return name;
      if (++looked >= maxMountSources) return undefined;
    }
    return undefined;
  }

  /**
   * Links a blob into `name` from `from` (or, with no `from`, from wherever it is stored). Returns
   * undefined when the blob cannot be linked, so the caller can fall back to an upload: also when
   * garbage collection is deleting it (the link then stays for the collection to remove).
   */
  async mount(name: string, digest: Digest, from?: string): Promise<BlobInfo | undefined> {
    const started = Collections.started();
    const source = from === undefined ? await this.exists(digest) : await this.find(from, digest);
    if (!source) return undefined;
    await this.link(name, digest);
    return (await this.linkHolds(name, digest, started)) ? source : undefined;
  }

  /**
   * Whether a link to `digest` just written in `name`, by a write whose checks began at `started`,
   * still has its blob with no garbage collection about to delete it (collections.ts).
   */
  linkHolds(name: string, digest: Digest, started: number): Promise<boolean> {
    return this.#collections.holds(started, [digest], async () => (await this.find(name, digest)) !== undefined);
  }
}
