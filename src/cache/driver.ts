import { LRUCache } from 'lru-cache';
import type { Duration } from '../config/duration.ts';
import type { ByteRange } from '../oci/range.ts';
import type { Driver, ObjectInfo } from '../storage/driver.ts';

export interface CacheOptions {
  /** Bytes of cached objects (plus a small overhead per entry). */
  maxBytes: number;
  /**
   * How long a tag or link entry is trusted; 0 keeps it until evicted or overwritten. Manifest bytes
   * (`blobs/`) are content addressed and never change, so they are kept regardless.
   */
  ttl: Duration;
}

/** Upload sessions change with every chunk and are read once: caching them only evicts useful entries. */
const cacheable = (key: string): boolean => !key.startsWith('_uploads/');

// What a driver read may be a view into a larger pooled buffer (Node's small Buffers are), which
// the cache would keep alive whole; so it keeps its own exact copy. Not `slice()`: on a Node Buffer
// that is a view of the same memory.
const copy = (b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** Per-entry bookkeeping the byte budget accounts for, beyond the value and the key. */
const entryOverhead = 64;

/**
 * An in-memory LRU in front of a driver's whole-object reads (`get`): tags, manifest links and
 * manifest bytes, i.e. everything a manifest GET reads, so a hot one never reaches the disk or S3.
 * Blob bodies are streamed with `read` and never cached. Every write through this driver drops
 * the entry it replaces; another process writing the same store (replicas on S3) is only seen
 * once `ttl` expires, which is why S3 gets a short one by default.
 */
export class CachingDriver implements Driver {
  readonly name: string;
  readonly localPath?: (key: string) => string;
  readonly url?: (key: string) => Promise<string>;
  readonly sweep?: () => Promise<number>;
  readonly #inner: Driver;
  readonly #cache: LRUCache<string, Uint8Array<ArrayBuffer>>;
  /**
   * Counts writes; a read caches what it found only if no write happened while it read, so a
   * read racing a write can never put the old bytes back after the write dropped them.
   */
  #writes = 0;
  readonly #ttlMs: number;

  constructor(inner: Driver, opts: CacheOptions) {
    this.#inner = inner;
    this.name = inner.name;
    if (inner.localPath) this.localPath = (key) => inner.localPath!(key);
    if (inner.url) this.url = (key) => inner.url!(key);
    // Temporary files are never cached: nothing to drop.
    if (inner.sweep) this.sweep = () => inner.sweep!();
    this.#cache = new LRUCache({
      maxSize: Math.max(1, opts.maxBytes),
      // One object may use at most a quarter of the budget, so a few big manifests cannot flush the rest.
      maxEntrySize: Math.max(1, Math.floor(opts.maxBytes / 4)),
      sizeCalculation: (value, key) => value.byteLength + key.length + entryOverhead,
    });
    this.#ttlMs = opts.ttl;
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (!cacheable(key)) return this.#inner.get(key);
    const hit = this.#cache.get(key);
    // Shared, not copied (Driver.get's contract): a copy per hit cost as much as the rest of a
    // cached manifest GET (bench/), and grows with the manifest.
    if (hit) return hit;
    const writes = this.#writes;
    const value = await this.#inner.get(key);
    if (value && this.#writes === writes) {
      this.#cache.set(key, copy(value), this.#ttlMs > 0 && !key.startsWith('blobs/') ? { ttl: this.#ttlMs } : {});
    }
    return value;
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    return this.#writing([key], () => this.#inner.put(key, body));
  }

  delete(key: string): Promise<void> {
    return this.#writing([key], () => this.#inner.delete(key));
  }

  deletePrefix(prefix: string): Promise<void> {
    const under = `${prefix}/`;
    return this.#writing(() => [...this.#cache.keys()].filter((k) => k.startsWith(under)), () => this.#inner.deletePrefix(prefix));
  }

  commit(from: string, to: string, size?: number): Promise<void> {
    return this.#writing([to], () => this.#inner.commit(from, to, size));
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.#inner.stat(key);
  }

  read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array> | undefined> {
    return this.#inner.read(key, range);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  append(key: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<number> {
    return this.#inner.append(key, offset, body);
  }

  /**
   * Runs a write, dropping the entries it affects before (no reader gets the old bytes from memory
   * once the write may have landed) and after (nor any cached while it ran).
   */
  async #writing(keys: string[] | (() => string[]), write: () => Promise<void>): Promise<void> {
    // Upload sessions are never cached; their writes must not stop reads from caching.
    if (Array.isArray(keys) && !keys.some(cacheable)) return write();
    const drop = (): void => {
      this.#writes++;
      for (const key of typeof keys === 'function' ? keys() : keys) this.#cache.delete(key);
    };
    drop();
    try {
      await write();
    } finally {
      drop();
    }
  }
}

/** The driver with the cache in front when the configuration gives it any bytes. */
export const withCache = (driver: Driver, opts: CacheOptions): Driver => (opts.maxBytes > 0 ? new CachingDriver(driver, opts) : driver);
