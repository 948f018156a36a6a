import { LRUCache } from 'lru-cache';
import type { Versions } from '../coordination/types.ts';
import type { ByteRange } from '../oci/range.ts';
import type { AppendOptions, CommitOptions, Driver, ObjectInfo } from '../storage/driver.ts';

/**
 * How far a cached tag or link (a mutable object: another writer may replace it) is trusted:
 * - `owner`: this process is the only writer (local disk), so an entry holds until it overwrites it;
 * - `storage`: other processes write too (replicas on S3) and nothing tells of it, so every read
 *   asks storage: exact, one request each;
 * - `versions`: other processes write too and announce it through `versions` (Redis): an entry holds
 *   while its repository's version is the one it was read under;
 * - `ttl`: the operator accepts reads that far behind other replicas' writes (`cache.ttl`).
 * Bytes under `blobs/` are content addressed and never change: every mode keeps them.
 */
export type Trust =
  | { mode: 'owner' }
  | { mode: 'storage' }
  | { mode: 'versions'; versions: Versions; scopeOf: (key: string) => string | undefined }
  | { mode: 'ttl'; ms: number };

export interface CacheOptions {
  /** Bytes of cached objects (plus a small overhead per entry). */
  maxBytes: number;
  trust: Trust;
  /** Told how each cached read of a tag, link or manifest was answered. */
  observe?: (result: 'hit' | 'miss' | 'uncached') => void;
}

/** Upload sessions change with every chunk and are read once: caching them only evicts useful entries. */
const cacheable = (key: string): boolean => key !== '_uploads' && !key.startsWith('_uploads/');
const immutable = (key: string): boolean => key.startsWith('blobs/');

// What a driver read may be a view into a larger pooled buffer (Node's small Buffers are), which
// the cache would keep alive whole; so it keeps its own exact copy. Not `slice()`: on a Node Buffer
// that is a view of the same memory.
const copy = (b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** Per-entry bookkeeping the byte budget accounts for, beyond the value and the key. */
const entryOverhead = 96;

interface Entry {
  bytes: Uint8Array<ArrayBuffer>;
  /** The scope's version the bytes were read under (`versions` mode). */
  version?: string | undefined;
}

/** Every scope: a write whose keys name no repository. */
const everything = '*';

/**
 * An in-memory LRU in front of a driver's whole-object reads (`get`): tags, manifest links and
 * manifest bytes, i.e. everything a manifest GET reads, so a hot one never reaches the disk or S3.
 * Blob bodies are streamed with `read` and never cached. Every write through this driver drops
 * the entry it replaces; what other processes write is seen as `trust` says.
 */
export class CachingDriver implements Driver {
  readonly name: string;
  readonly localPath?: (key: string) => string;
  readonly url?: (key: string) => Promise<string>;
  readonly sweep?: () => Promise<number>;
  readonly open?: Driver['open'];
  readonly #inner: Driver;
  readonly #cache: LRUCache<string, Entry>;
  readonly #trust: Trust;
  readonly #observe: (result: 'hit' | 'miss' | 'uncached') => void;
  /**
   * Counts writes; a read caches what it found only if no write happened while it read, so a
   * read racing a write can never put the old bytes back after the write dropped them.
   */
  #writes = 0;

  constructor(inner: Driver, opts: CacheOptions) {
    this.#inner = inner;
    this.name = inner.name;
    if (inner.localPath) this.localPath = (key) => inner.localPath!(key);
    if (inner.url) this.url = (key) => inner.url!(key);
    // Bodies are streamed, never cached, as `read`'s are.
    if (inner.open) this.open = (key) => inner.open!(key);
    // Temporary files are never cached: nothing to drop.
    if (inner.sweep) this.sweep = () => inner.sweep!();
    this.#cache = new LRUCache({
      maxSize: Math.max(1, opts.maxBytes),
      // One object may use at most a quarter of the budget, so a few big manifests cannot flush the rest.
      maxEntrySize: Math.max(1, Math.floor(opts.maxBytes / 4)),
      sizeCalculation: (value, key) => value.bytes.byteLength + key.length + (value.version?.length ?? 0) + entryOverhead,
    });
    this.#trust = opts.trust;
    this.#observe = opts.observe ?? (() => undefined);
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    if (!cacheable(key)) return this.#inner.get(key);
    if (immutable(key)) return this.#read(key, undefined, {});
    const trust = this.#trust;
    switch (trust.mode) {
      case 'owner':
        return this.#read(key, undefined, {});
      case 'ttl':
        return this.#read(key, undefined, { ttl: trust.ms });
      case 'storage':
        return this.#uncached(key);
      case 'versions': {
        const scope = trust.scopeOf(key);
        const version = scope === undefined ? undefined : await trust.versions.current(scope);
        if (version === undefined) return this.#uncached(key);
        return this.#read(key, version, {});
      }
    }
  }

  /** The entry when it is there (under `version`, if one is asked for), else storage's object, cached. */
  async #read(key: string, version: string | undefined, opts: { ttl?: number }): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const hit = this.#cache.get(key);
    // Shared, not copied (Driver.get's contract): a copy per hit cost as much as the rest of a
    // cached manifest GET (bench/), and grows with the manifest.
    if (hit && hit.version === version) {
      this.#observe('hit');
      return hit.bytes;
    }
    this.#observe('miss');
    const writes = this.#writes;
    const value = await this.#inner.get(key);
    if (value && this.#writes === writes) this.#cache.set(key, { bytes: copy(value), version }, opts);
    return value;
  }

  #uncached(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    this.#observe('uncached');
    return this.#inner.get(key);
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    return this.#writing([key], () => this.#inner.put(key, body));
  }

  async create(key: string, body: Uint8Array | string): Promise<boolean> {
    let created = false;
    await this.#writing([key], async () => {
      created = await this.#inner.create(key, body);
    });
    return created;
  }

  delete(key: string): Promise<void> {
    return this.#writing([key], () => this.#inner.delete(key));
  }

  deletePrefix(prefix: string): Promise<void> {
    const under = `${prefix}/`;
    return this.#writing(() => [...this.#cache.keys()].filter((k) => k.startsWith(under)), () => this.#inner.deletePrefix(prefix), [prefix]);
  }

  async commit(from: string, to: string, size?: number, opts?: CommitOptions): Promise<number> {
    let committed = 0;
    await this.#writing([to], async () => {
      committed = await this.#inner.commit(from, to, size, opts);
    });
    return committed;
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

  append(key: string, offset: number | undefined, body: AsyncIterable<Uint8Array>, opts?: AppendOptions): Promise<number> {
    return this.#inner.append(key, offset, body, opts);
  }

  /**
   * Runs a write, dropping the entries it affects before (no reader gets the old bytes from memory
   * once the write may have landed) and after (nor any cached while it ran). With versions, the
   * fleet is told too. `written` names what the write touches when `keys` are only the cached ones.
   */
  async #writing(keys: string[] | (() => string[]), write: () => Promise<void>, written: string[] = Array.isArray(keys) ? keys : []): Promise<void> {
    // Upload sessions are never cached; their writes must not stop reads from caching.
    if (!written.some(cacheable)) return write();
    const drop = (): void => {
      this.#writes++;
      for (const key of typeof keys === 'function' ? keys() : keys) this.#cache.delete(key);
    };
    drop();
    try {
      const trust = this.#trust;
      const mutable = written.filter((k) => !immutable(k));
      if (trust.mode === 'versions' && mutable.length > 0) {
        const scopes = new Set(mutable.map((k) => trust.scopeOf(k) ?? everything));
        await trust.versions.writing([...scopes], write);
      } else {
        await write();
      }
    } finally {
      drop();
    }
  }
}

/** The driver with the cache in front when the configuration gives it any bytes. */
export const withCache = (driver: Driver, opts: CacheOptions): Driver => (opts.maxBytes > 0 ? new CachingDriver(driver, opts) : driver);
