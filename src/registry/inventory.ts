import { algorithms, isAlgorithm, type Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { Driver, ObjectInfo } from '../storage/driver.ts';
import { Limiter, storageFanOut } from './bounded.ts';
import type { Collection, Collections } from './collections.ts';
import { layout } from './layout.ts';
import { parseLink, type Manifests } from './manifests.ts';
import { isRepository, walkRepositories } from './repositories.ts';
import type { Tags } from './tags.ts';

/** One manifest link of a repository as maintenance sees it: when it was written and what it holds on to. */
export interface ManifestRecord {
  digest: Digest;
  /** When the link was last written: pushed or fetched. */
  linked: Date;
  /** The length of its bytes; undefined when they are gone. */
  size: number | undefined;
  /** The blobs it references (config, layers), with the sizes their descriptors give. */
  blobs: Array<{ digest: Digest; size: number }>;
  /** The manifests it lists (an index's children). */
  manifests: Digest[];
  subject: Digest | undefined;
}

const text = new TextDecoder();

/**
 * What maintenance (gc, upload purge, mirror retention) reads and deletes, in the registry's terms:
 * repositories, their links and tags, blobs and upload sessions; the storage layout stays behind
 * it. However many calls a pass makes at once, at most `storageFanOut` storage operations run at a
 * time through one inventory, so no pass can exhaust file descriptors or flood S3.
 */
export class Inventory {
  readonly #driver: Driver;
  readonly #manifests: Manifests;
  readonly #tags: Tags;
  readonly #collections: Collections;
  readonly #limiter = new Limiter(storageFanOut);

  constructor(driver: Driver, parts: { manifests: Manifests; tags: Tags; collections: Collections }) {
    this.#driver = driver;
    this.#manifests = parts.manifests;
    this.#tags = parts.tags;
    this.#collections = parts.collections;
  }

  /**
   * Starts a collection run: what other processes and replicas see of a sweep about to delete
   * (src/registry/collections.ts). Its storage operations share the inventory's bound.
   */
  beginCollection(): Promise<Collection> {
    return this.#collections.begin((fn) => this.#run(fn));
  }

  /** Every repository holding anything (links, tags or referrers), walked lazily in lexical order. */
  repositories(): AsyncGenerator<string> {
    return walkRepositories(this.#driver, isRepository, undefined, this.#limiter);
  }

  /** The repository named `prefix` (if there is one) and every repository under `prefix/`, lazily, in lexical order. */
  repositoriesUnder(prefix: string): AsyncGenerator<string> {
    return walkRepositories(this.#driver, isRepository, undefined, this.#limiter, prefix);
  }

  manifests(name: string): Promise<Digest[]> {
    return this.#digestsUnder(layout.manifestLinks(name));
  }

  /** The link and what the manifest's bytes reference; undefined when the link is gone. */
  async manifest(name: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const [info, link, bytes] = await Promise.all([
      this.#run(() => this.#driver.stat(layout.manifestLink(name, digest))),
      this.#run(() => this.#driver.get(layout.manifestLink(name, digest))),
      this.#run(() => this.#driver.get(layout.blob(digest))),
    ]);
    if (!info || !link) return undefined;
    const record: ManifestRecord = { digest, linked: info.modified, size: bytes?.byteLength, blobs: [], manifests: [], subject: undefined };
    if (!bytes) return record;
    let mediaType: string | undefined;
    try {
      mediaType = parseLink(link).mediaType;
    } catch {
      // An unreadable link names no type; the bytes alone then decide.
    }
    try {
      const parsed = parseManifest(bytes, mediaType);
      record.blobs = parsed.blobs.map((b) => ({ digest: b.digest, size: b.size }));
      record.manifests = parsed.manifests.map((m) => m.digest);
      record.subject = parsed.subject?.parsed;
    } catch {
      // Unparsable bytes reference nothing; the manifest itself still counts.
    }
    return record;
  }

  /** Whether the repository links the manifest. */
  async manifestLinked(name: string, digest: Digest): Promise<boolean> {
    return (await this.#run(() => this.#driver.stat(layout.manifestLink(name, digest)))) !== undefined;
  }

  /** Removes the manifest's link and its referrer entry (its tags must be gone first). */
  unlinkManifest(name: string, record: Pick<ManifestRecord, 'digest' | 'subject'>): Promise<void> {
    return this.#run(() => this.#manifests.unlink(name, record.digest, record.subject));
  }

  tags(name: string): Promise<string[]> {
    return this.#run(() => this.#tags.all(name));
  }

  /** The digest the tag points at; undefined when it is gone or holds no digest. */
  tagTarget(name: string, tag: string): Promise<Digest | undefined> {
    return this.#run(() => this.#tags.resolve(name, tag).catch(() => undefined));
  }

  /** When the tag was last written: pushed (or, in a mirrored repository, confirmed upstream). */
  tagWritten(name: string, tag: string): Promise<Date | undefined> {
    return this.#run(() => this.#tags.writtenAt(name, tag));
  }

  deleteTag(name: string, tag: string): Promise<boolean> {
    return this.#run(() => this.#tags.delete(name, tag));
  }

  blobLinks(name: string): Promise<Digest[]> {
    return this.#digestsUnder(`${layout.repository(name)}/_blobs`);
  }

  async blobLinked(name: string, digest: Digest): Promise<Date | undefined> {
    return (await this.#run(() => this.#driver.stat(layout.blobLink(name, digest))))?.modified;
  }

  unlinkBlob(name: string, digest: Digest): Promise<void> {
    return this.#run(() => this.#driver.delete(layout.blobLink(name, digest)));
  }

  /** Every blob in the store (layers, configs, manifests' bytes), one shard listed at a time. */
  async *blobs(): AsyncGenerator<Digest> {
    for (const algorithm of Object.keys(algorithms)) {
      if (!isAlgorithm(algorithm)) continue;
      for (const shard of await this.#run(() => this.#driver.list(`blobs/${algorithm}`))) {
        for (const hex of await this.#run(() => this.#driver.list(`blobs/${algorithm}/${shard}`))) yield { algorithm, hex };
      }
    }
  }

  blob(digest: Digest): Promise<ObjectInfo | undefined> {
    return this.#run(() => this.#driver.stat(layout.blob(digest)));
  }

  deleteBlob(digest: Digest): Promise<void> {
    return this.#run(() => this.#driver.delete(layout.blob(digest)));
  }

  /** Removes the store's leftover temporary files (a crash mid-write); how many went. */
  async temporaries(): Promise<number> {
    return (await this.#driver.sweep?.()) ?? 0;
  }

  uploads(): Promise<string[]> {
    return this.#run(() => this.#driver.list(layout.uploads));
  }

  /**
   * When the session started: its recorded start, else when its record (else its data) was
   * written; undefined with neither, which is a session being created, never stale.
   */
  uploadStarted(id: string): Promise<number | undefined> {
    return this.#run(async () => {
      const raw = await this.#driver.get(layout.uploadInfo(id));
      if (raw) {
        try {
          const started = Date.parse((JSON.parse(text.decode(raw)) as { startedAt?: string }).startedAt ?? '');
          if (!Number.isNaN(started)) return started;
        } catch {
          // unreadable: judged by the object's age below
        }
      }
      const written = (await this.#driver.stat(layout.uploadInfo(id))) ?? (await this.#driver.stat(layout.uploadData(id)));
      return written?.modified.getTime();
    });
  }

  deleteUpload(id: string): Promise<void> {
    return this.#run(() => this.#driver.deletePrefix(layout.upload(id)));
  }

  /** Digests named by the keys under `prefix/<algorithm>/`, for every algorithm berth knows. */
  async #digestsUnder(prefix: string): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const algorithm of Object.keys(algorithms)) {
      if (!isAlgorithm(algorithm)) continue;
      for (const hex of await this.#run(() => this.#driver.list(`${prefix}/${algorithm}`))) out.push({ algorithm, hex });
    }
    return out;
  }

  /** One storage operation (or a short sequence on one object) in one of the inventory's slots. */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#limiter.run(fn);
  }
}
