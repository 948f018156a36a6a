import type { ByteRange } from '../oci/range.ts';

export interface ObjectInfo {
  size: number;
  modified: Date;
}

export interface CommitOptions {
  leaveSource?: boolean;
  /**
   * Commits the object at the size an append labelled it `label` at (`AppendNote.label`),
   * instead of at a size the caller gives: a `conflict` unless it still stands at that size with
   * that label. Drivers that keep no labels (fs) always answer the conflict.
   */
  label?: string;
}

export interface AppendOptions {
  /** Asked once the body has ended, with the object's new size: what the caller knows of it then. */
  note?: (size: number) => AppendNote | undefined;
}

/** What a caller knows of an appendable object at the size an append left it. */
export interface AppendNote {
  /**
   * A short note (a digest of the bytes so far) kept with the object at that size, for `commit`'s
   * `label`, where the driver keeps one at no extra round trip (S3: in the append's own state).
   */
  label: string;
  /**
   * The key these bytes belong under for good, whatever becomes of the object: their content
   * address, named only for bytes the caller hashed to it. A driver that holds the whole object in
   * one piece at the end of the append (S3: one append from the first byte, under a part) may
   * store it there instead of beside the object, so a commit to that key has nothing to copy. The
   * driver never deletes what it stored there: the key's owner does (garbage collection).
   */
  home?: string;
}

/**
 * What a storage backend provides: bytes under keys. Keys are `/`-separated relative paths made by
 * the registry's layout; a driver knows nothing of manifests, tags or digests.
 *
 * Two kinds of object live here: small whole objects (links, tags, manifests, session state),
 * written atomically by `put`, and appendable objects (upload data) that grow by `append` and are
 * moved into place by `commit`.
 *
 * A driver's own failures are `StorageError`s (errors.ts) and nothing else: the same situation gives
 * the same kind on every driver. A write that resolved is durable as the driver's storage can make it.
 */
export interface Driver {
  readonly name: string;

  /** The whole object. The bytes may be shared with other readers (the cache's): never modify them. */
  get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined>;
  /** Atomic: a reader sees the old object or the new one, never a part. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /**
   * `put` only if nothing is under the key yet, decided by the store in one step (S3's
   * `If-None-Match: *`, a hard link on disk): of writers racing for one key, in any process,
   * exactly one gets true; the others get false and leave the object as the winner wrote it.
   */
  create(key: string, body: Uint8Array | string): Promise<boolean>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Streams an object, or an inclusive byte range of it; undefined when the key is absent. */
  read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array> | undefined>;
  /** Removes one object; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every object under `prefix/`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Names directly under `prefix/` (objects and sub-prefixes alike), sorted; [] when none. */
  list(prefix: string): Promise<string[]>;

  /**
   * Appends a stream to an appendable object that currently holds exactly `offset` bytes and
   * returns the new size; an object of another size (or none, past 0) is a `conflict` carrying the
   * real size. An `offset` of undefined appends wherever the object ends (none: at 0), so a caller
   * that has no place of its own to check need not ask for the size first. If the stream or the write fails, the object is left at `offset` bytes, so a
   * broken chunk never leaves half its bytes behind; the stream's own error leaves as it came. A chunk of `body` is only valid until the
   * next one is asked for (a body may refill one buffer: src/http/batched-body.ts), so a driver
   * writes or copies each chunk before reading on.
   */
  append(key: string, offset: number | undefined, body: AsyncIterable<Uint8Array>, opts?: AppendOptions): Promise<number>;
  /**
   * Moves a finished appendable object to `to`. If `to` already exists (the same content
   * arrived another way) the source is dropped and the existing object kept.
   *
   * With `size`, the commit is a `conflict` unless the object holds exactly that many bytes, so
   * what is committed is what the caller verified even if another process appended in between
   * (replicas on S3). A `from` that is not there is `missing`.
   *
   * `leaveSource`: the caller deletes the source itself right after (with the session around it,
   * in one listing and one batch), so a driver that would spend round trips on it may leave it.
   *
   * Returns the size committed.
   */
  commit(from: string, to: string, size?: number, opts?: CommitOptions): Promise<number>;

  /**
   * A whole object's size and bytes from one request, where the store answers both at once (S3's
   * GET): for drivers that can; a caller without it asks `stat`, then `read`.
   */
  open?(key: string): Promise<{ size: number; body: ReadableStream<Uint8Array> } | undefined>;

  /**
   * The path of a key's object on the local filesystem, for drivers that have one; lets a runtime
   * send a blob with its own sendfile-class I/O instead of a JavaScript stream.
   */
  localPath?(key: string): string;

  /**
   * A URL from which a client may GET the object's bytes itself, for a limited time (a presigned
   * S3 URL), for drivers configured to hand such URLs out; a client sent there never passes
   * through berth, so the caller decides first that it may have those bytes. Only for whole objects
   * the caller knows exist (`put`, or `commit`ted: never an appendable object being written).
   */
  url?(key: string): Promise<string>;

  /**
   * Removes what writes that died with their process left behind (temporary files), old enough
   * that no write in flight can own them; returns how many. For drivers whose interrupted writes
   * leave such things (fs); run at start and by gc.
   */
  sweep?(): Promise<number>;
}
