import { randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createHasher, formatDigest, sameDigest, type Algorithm, type Digest } from '../oci/digest.ts';
import { isOciError, OciError } from '../oci/errors.ts';
import type { ByteRange } from '../oci/range.ts';
import type { AppendNote, Driver } from '../storage/driver.ts';
import { isStorageError } from '../storage/errors.ts';
import type { BlobInfo, Blobs } from './blobs.ts';
import { Collections } from './collections.ts';
import { KeyedLock } from './keyed-lock.ts';
import { layout } from './layout.ts';
import { meter } from './metered-stream.ts';

export interface UploadSession {
  id: string;
  name: string;
  algorithm: Algorithm;
  /** Bytes received so far. */
  offset: number;
}

interface SessionInfo {
  name: string;
  algorithm: Algorithm;
  startedAt: string;
  /** Who opened it, when access control is on; nobody else may see or write it. */
  owner?: string;
}

export interface Chunk {
  /** Each piece is valid only until the next is asked for (see Driver.append). */
  body: AsyncIterable<Uint8Array>;
  /** The chunk's place in the blob (PATCH `Content-Range`); absent means "append". */
  range?: ByteRange;
  /** The declared length (`Content-Length`), checked against what arrives. */
  length?: number;
}

const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Running hashes kept between chunks; a session without one is re-hashed from storage. */
const maxRunningHashes = 10_000;

/** A session's hash so far, kept between its chunks. */
interface Running {
  offset: number;
  hash: Hash;
  algorithm: Algorithm;
}

/** A chunk that says it holds nothing, with no place to check: appending it changes nothing. */
const declaredEmpty = (chunk: Chunk): boolean => chunk.length === 0 && chunk.range === undefined;

/** An empty body: creates a session's data object if no append did. */
async function* nothing(): AsyncGenerator<Uint8Array> {}

const uploadUnknown = (): OciError => new OciError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');

/**
 * Blob upload sessions. Their state lives in storage (`_uploads/<id>/`), so a restart or another
 * replica can continue any session; the running hash in memory is only a fast path.
 */
export class Uploads {
  readonly #driver: Driver;
  readonly #blobs: Blobs;
  readonly #lock = new KeyedLock();
  readonly #hashes = new Map<string, Running>();
  readonly #shared: boolean;

  /**
   * `shared`: other processes continue sessions in this storage (replicas on one bucket), so each
   * append that hashed its session from the start labels the data with the digest so far for them
   * (`AppendOptions.label`: on S3 in the append's own state, no round trip of its own).
   */
  constructor(driver: Driver, blobs: Blobs, opts: { shared?: boolean } = {}) {
    this.#driver = driver;
    this.#blobs = blobs;
    this.#shared = opts.shared ?? false;
  }

  /**
   * Opens a session. With an `owner` (the principal, when access control is on), every later call
   * must name the same owner, or the session does not exist for it (BLOB_UPLOAD_UNKNOWN): knowing
   * an upload's id is not enough to write into it.
   */
  async start(name: string, algorithm: Algorithm, owner?: string): Promise<UploadSession> {
    const id = randomUUID();
    const info: SessionInfo = { name, algorithm, startedAt: new Date().toISOString(), ...(owner === undefined ? {} : { owner }) };
    // The data object comes with the first append (a session's offset is 0 without it): on S3
    // that saves a POST two round trips.
    await this.#driver.put(layout.uploadInfo(id), JSON.stringify(info));
    this.#remember(id, 0, createHasher(algorithm), algorithm);
    return { id, name, algorithm, offset: 0 };
  }

  async status(name: string, id: string, owner?: string): Promise<UploadSession> {
    const info = await this.#info(name, id, owner);
    return { id, name, algorithm: info.algorithm, offset: await this.#offset(id) };
  }

  /** Appends one chunk (PATCH). A chunk that does not start at the current offset is a 416. */
  async append(name: string, id: string, chunk: Chunk, owner?: string): Promise<UploadSession> {
    return this.#lock.run(id, async () => {
      const info = await this.#info(name, id, owner);
      const offset = await this.#write(id, info.algorithm, chunk, this.#shared);
      return { id, name, algorithm: info.algorithm, offset };
    });
  }

  /**
   * Completes a session (PUT): appends the optional last chunk, verifies the digest, and commits
   * the bytes under `blobs/` and the link in the repository. Nothing is committed unverified.
   */
  async finish(name: string, id: string, digest: Digest, chunk?: Chunk, owner?: string): Promise<BlobInfo> {
    return this.#lock.run(id, async () => {
      const info = await this.#info(name, id, owner);
      if (digest.algorithm !== info.algorithm) {
        // The hash so far was computed with the session's algorithm; switch and re-hash at the end.
        this.#hashes.delete(id);
      }
      // A PUT that declares no body (skopeo's, docker's) appends nothing: no storage round trips for it.
      if (chunk && !declaredEmpty(chunk)) await this.#write(id, digest.algorithm, chunk, this.#shared);
      // What this process hashed, or the label the last append left, if the digest is the one
      // asked for: committed at the size it was hashed at, so bytes appended since make it a
      // conflict, and the session is then measured and hashed from storage like one nothing is known of.
      const known = this.#known(id, digest);
      let committed =
        known !== undefined
          ? await this.#commit(id, digest, { size: known }, 'quick')
          : this.#shared
            ? await this.#commit(id, digest, { label: formatDigest(digest) }, 'quick')
            : undefined;
      if (committed === undefined) {
        const size = await this.#offset(id);
        const actual = await this.#digest(id, digest.algorithm, size).catch((e: unknown) => this.#conflicted(id, e, true));
        if (!sameDigest(actual, digest)) {
          await this.cancel(name, id);
          throw new OciError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
            detail: { expected: formatDigest(digest), actual: formatDigest(actual) },
          });
        }
        committed = (await this.#commit(id, digest, { size }, 'final')) ?? { size, started: Collections.started() };
      }
      const { size, started } = committed;
      await this.#blobs.link(name, digest);
      const held = await this.#blobs.linkHolds(name, digest, started);
      await this.#forget(id);
      // The bytes may have been there already (another push) and be on their way out: this upload
      // is then gone with them, and the client starts again, by when they are gone or kept.
      if (!held) throw collectedAsCommitted(digest);
      return { digest, size };
    });
  }

  /**
   * Commits the session's data as the blob, pinned at a size or at what its label says (what is
   * committed is what was verified, even if another replica appended since), and returns the size
   * and when the link's checks began (Collections.started). An empty blob may have had no append
   * to create its data object: the commit at size 0 needs one. A `quick` commit that finds another
   * size or label (or, by label, no data: nothing labelled it) answers undefined, and the caller
   * then looks at storage; a `final` one answers conflicts with a 416.
   */
  async #commit(id: string, digest: Digest, at: { size: number } | { label: string }, attempt: 'quick' | 'final'): Promise<{ size: number; started: number } | undefined> {
    try {
      if ('size' in at && at.size === 0) await this.#driver.append(layout.uploadData(id), 0, nothing());
      const started = Collections.started();
      // The session goes whole once the blob is linked: the commit need not delete its data on its own.
      const opts = { leaveSource: true, ...('label' in at ? { label: at.label } : {}) };
      const size = await this.#driver.commit(layout.uploadData(id), layout.blob(digest), 'size' in at ? at.size : undefined, opts);
      return { size, started };
    } catch (e) {
      if (attempt === 'quick' && isStorageError(e) && (e.kind === 'conflict' || ('label' in at && e.kind === 'missing'))) return undefined;
      return this.#conflicted(id, e, true);
    }
  }

  /** The size at which this process hashed the session's bytes to `digest`, if it did. */
  #known(id: string, digest: Digest): number | undefined {
    const running = this.#hashes.get(id);
    if (running?.algorithm === digest.algorithm && running.hash.copy().digest('hex') === digest.hex) return running.offset;
    return undefined;
  }

  async cancel(name: string, id: string, owner?: string): Promise<void> {
    await this.#info(name, id, owner);
    await this.#forget(id);
  }

  async #forget(id: string): Promise<void> {
    this.#hashes.delete(id);
    await this.#driver.deletePrefix(layout.upload(id));
  }

  async #info(name: string, id: string, owner: string | undefined): Promise<SessionInfo> {
    if (!idPattern.test(id)) throw uploadUnknown();
    const raw = await this.#driver.get(layout.uploadInfo(id));
    if (!raw) throw uploadUnknown();
    const info = JSON.parse(new TextDecoder().decode(raw)) as SessionInfo;
    // A session belongs to the repository it was started in; elsewhere it does not exist.
    if (info.name !== name) throw uploadUnknown();
    // Likewise for anyone but its owner (a session opened before access control was on has none: nobody's).
    if (owner !== undefined && info.owner !== owner) throw uploadUnknown();
    return info;
  }

  async #offset(id: string): Promise<number> {
    return (await this.#driver.stat(layout.uploadData(id)))?.size ?? 0;
  }

  /**
   * Appends a chunk: at its `Content-Range`, checked against the session's size first, or with
   * none wherever the data ends, which the driver finds without a round trip of its own.
   * `record`: label the data with the digest so far for other processes (`shared`).
   */
  async #write(id: string, algorithm: Algorithm, chunk: Chunk, record: boolean): Promise<number> {
    const { range } = chunk;
    if (!range) return this.#append(id, algorithm, chunk.body, undefined, chunk.length, record);
    const offset = await this.#offset(id);
    if (range.start !== offset) {
      throw new OciError('BLOB_UPLOAD_INVALID', `chunk starts at ${range.start} but the upload holds ${offset} bytes`, {
        status: 416,
        headers: rangeHeaders(offset),
      });
    }
    const length = range.end - range.start + 1;
    if (chunk.length !== undefined && chunk.length !== length) {
      throw new OciError('SIZE_INVALID', `Content-Length ${chunk.length} does not match Content-Range length ${length}`, {
        status: 416,
        headers: rangeHeaders(offset),
      });
    }
    return this.#append(id, algorithm, chunk.body, offset, length, record);
  }

  /** Appends, hashing with `algorithm` when the hash can be right (see below). */
  async #append(id: string, algorithm: Algorithm, body: AsyncIterable<Uint8Array>, at: number | undefined, expected: number | undefined, record: boolean): Promise<number> {
    const own = this.#hashes.get(id);
    const running = own?.algorithm === algorithm ? own : undefined;
    // The hash in hand is right if the bytes land where it stands: this process's running hash,
    // or a new one for a session whose bytes start here (at 0, or nobody here knows where).
    const hashed =
      running && (at === undefined || running.offset === at)
        ? running
        : !running && (at === undefined || at === 0)
          ? { offset: 0, hash: createHasher(algorithm), algorithm }
          : undefined;
    const before = hashed === running ? running?.hash.copy() : undefined;
    let count = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const part of meter(body, hashed ? { hash: hashed.hash, expected } : { expected })) {
        count += part.byteLength;
        yield part;
      }
    };
    // The digest so far, if this append's hash covers the data from its first byte: the data's
    // label, and the blob these very bytes are (the driver may store them there at once).
    const note = (to: number): AppendNote | undefined => {
      if (!hashed || to === 0 || to - count !== hashed.offset) return undefined;
      const digest: Digest = { algorithm, hex: hashed.hash.copy().digest('hex') };
      return { label: formatDigest(digest), home: layout.blob(digest) };
    };
    let size: number;
    try {
      size = await this.#driver.append(layout.uploadData(id), at, counted(), record ? { note } : {});
    } catch (e) {
      // The driver rolled the bytes back; roll the hash back with them.
      if (running && before) this.#remember(id, running.offset, before, algorithm);
      return this.#conflicted(id, e, false);
    }
    if (!hashed || size - count !== hashed.offset) {
      this.#hashes.delete(id);
      return size;
    }
    this.#remember(id, size, hashed.hash, algorithm);
    return size;
  }

  /**
   * Rethrows a storage failure, unless it says that another request (here or on another replica)
   * moved the upload under this one: that is the spec's 416 with the upload's real `Range`, from
   * which the client resumes. While finishing, the upload's data gone (`missing`) means the same:
   * another request appended (S3 replaces pieces), completed or cancelled it.
   */
  async #conflicted(id: string, e: unknown, finishing: boolean): Promise<never> {
    if (!isStorageError(e) || !(e.kind === 'conflict' || (finishing && e.kind === 'missing'))) throw e;
    this.#hashes.delete(id);
    const offset = e.kind === 'conflict' && e.size !== undefined ? e.size : await this.#offset(id);
    if (e.kind === 'missing' && offset === 0 && !(await this.#driver.stat(layout.uploadInfo(id)))) throw uploadUnknown();
    throw new OciError('BLOB_UPLOAD_INVALID', `the upload holds ${offset} bytes: another request changed it`, { status: 416, headers: rangeHeaders(offset) });
  }

  async #digest(id: string, algorithm: Algorithm, size: number): Promise<Digest> {
    const running = this.#hashes.get(id);
    this.#hashes.delete(id);
    if (running && running.offset === size && running.algorithm === algorithm) return { algorithm, hex: running.hash.digest('hex') };
    // No running hash here (restart, another replica, algorithm switch): hash what is stored.
    const hash = createHasher(algorithm);
    const stream = size === 0 ? undefined : await this.#driver.read(layout.uploadData(id));
    if (stream) for await (const part of stream) hash.update(part);
    return { algorithm, hex: hash.digest('hex') };
  }

  #remember(id: string, offset: number, hash: Hash, algorithm: Algorithm): void {
    this.#hashes.delete(id);
    if (this.#hashes.size >= maxRunningHashes) {
      const oldest = this.#hashes.keys().next().value;
      if (oldest !== undefined) this.#hashes.delete(oldest);
    }
    this.#hashes.set(id, { offset, hash, algorithm });
  }
}

/** The spec's `Range: 0-<last byte>` for an upload holding `offset` bytes (0-0 when empty, as distribution does). */
export const uploadRange = (offset: number): string => `0-${Math.max(0, offset - 1)}`;

const rangeHeaders = (offset: number): Record<string, string> => ({ Range: uploadRange(offset) });

/**
 * The refusal of an upload whose bytes were verified and committed while garbage collection was
 * deleting that digest: the client uploads again. The mirror, whose clients already have the
 * verified bytes, tells it apart (`wasCollected`) and serves them without keeping them.
 */
const collectedAsCommitted = (digest: Digest): OciError =>
  new OciError('BLOB_UPLOAD_UNKNOWN', 'garbage collection deleted the uploaded blob as it completed; upload it again', { detail: { digest: formatDigest(digest), reason: 'collected' } });

export const wasCollected = (e: unknown): boolean => isOciError(e) && e.code === 'BLOB_UPLOAD_UNKNOWN' && (e.detail as { reason?: unknown } | undefined)?.reason === 'collected';
