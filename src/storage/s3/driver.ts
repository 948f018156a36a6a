import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from './schema.ts';
import type { ByteRange } from '../../oci/range.ts';
import type { AppendOptions, CommitOptions, Driver, ObjectInfo } from '../driver.ts';
import { assertKey } from '../keys.ts';
import { fromMetadata, homePiece, partPieces, pieces, tailPieces, type AppendState } from './append-state.ts';
import { Appendables } from './appendable.ts';
import { assemble, copyObject } from './assemble.ts';
import { Bucket } from './bucket.ts';
import { createS3Client } from './client.ts';
import { requireConditionalCreate } from './conditional-create.ts';
import { storageError } from './errors.ts';
import { conflict, StorageError } from '../errors.ts';
import { s3Limits, type S3Limits } from './limits.ts';
import { piecesStream } from './pieces-stream.ts';
import { Presigner } from './presign.ts';

const emptyStream = (): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => c.close() });

/**
 * An S3 bucket (AWS or compatible) as storage, shared by any number of berth replicas. Whole
 * objects map to S3 objects one to one; appendable objects (upload data) are pieces plus a state
 * that lives in the bucket (append-state.ts), so no replica holds anything another one needs.
 */
export class S3Driver implements Driver {
  readonly name = 's3';
  /** Where the data lives, for logs and messages. */
  readonly describe: string;
  readonly #bucket: Bucket;
  readonly #appendables: Appendables;
  readonly #partSize: number;

  readonly #limits: S3Limits;
  readonly #presigner: Presigner | undefined;
  /** Present with `storage.s3.redirect.enabled`: presigned GET URLs (presign.ts). */
  readonly url?: (key: string) => Promise<string>;
  #conditionalCreate: Promise<void> | undefined;

  /** `limits` are S3's own unless a test scales them down (limits.ts). */
  constructor(options: S3Options, client: S3Client = createS3Client(options), limits: S3Limits = s3Limits) {
    this.#bucket = new Bucket(client, options.bucket, options.prefix, options.totalTimeout);
    this.#partSize = options.partSize;
    this.#limits = limits;
    this.#appendables = new Appendables(this.#bucket, options.partSize, limits.maxParts);
    if (options.redirect.enabled) {
      const presigner = new Presigner(this.#bucket, options);
      this.#presigner = presigner;
      this.url = async (key) => presigner.url(assertKey(key));
    }
    const at = options.endpoint ? ` at ${options.endpoint}` : '';
    this.describe = `s3://${options.bucket}${options.prefix ? `/${options.prefix}` : ''}${at}`;
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const found = await this.#appendables.load(assertKey(key));
    if (!found) return undefined;
    if (found.kind === 'plain') return this.#bucket.collect(key, found.object);
    const { state } = found;
    const out = new Uint8Array(state.size);
    let at = 0;
    for await (const chunk of this.#stream(key, state)) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await this.#bucket.put(assertKey(key), typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }

  async create(key: string, body: Uint8Array | string): Promise<boolean> {
    return this.#bucket.put(assertKey(key), typeof body === 'string' ? new TextEncoder().encode(body) : body, { ifAbsent: true });
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const head = await this.#bucket.head(assertKey(key));
    if (!head) return undefined;
    const pointer = fromMetadata(head.metadata);
    const size = pointer ? await this.#appendables.size(key, pointer) : head.size;
    return { size, modified: head.modified };
  }

  async read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array> | undefined> {
    const object = await this.#bucket.open(assertKey(key), range);
    if (!object) return undefined;
    if (!fromMetadata(object.metadata)) return object.body;
    // An appendable's pointer: a ranged GET of it means nothing, so read it whole.
    if (range) await object.body.cancel();
    const found = await this.#appendables.load(key, range ? undefined : object);
    if (!found) return undefined;
    if (found.kind === 'plain') return this.read(key, range);
    return this.#stream(key, found.state, range);
  }

  /** One GET answers both: what a blob GET needs besides the link. */
  async open(key: string): Promise<{ size: number; body: ReadableStream<Uint8Array> } | undefined> {
    const object = await this.#bucket.open(assertKey(key));
    if (!object) return undefined;
    if (!fromMetadata(object.metadata)) return { size: object.size, body: object.body };
    const found = await this.#appendables.load(key, object);
    if (!found) return undefined;
    if (found.kind === 'plain') return this.open(key);
    return { size: found.state.size, body: this.#stream(key, found.state) };
  }

  #stream(key: string, state: AppendState, range?: ByteRange): ReadableStream<Uint8Array> {
    if (state.size === 0) return emptyStream();
    return piecesStream(this.#bucket, pieces(key, state), range ?? { start: 0, end: state.size - 1 });
  }

  async delete(key: string): Promise<void> {
    const head = await this.#bucket.head(assertKey(key));
    if (!head) return;
    // An appendable's pieces go first: a pointer left alone is still deleted by the next try.
    if (fromMetadata(head.metadata)) await this.deletePrefix(key);
    await this.#bucket.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    for await (const page of this.#bucket.list(assertKey(prefix))) {
      await this.#bucket.deleteMany(page.keys.map((k) => `${prefix}/${k}`));
    }
  }

  async list(prefix: string): Promise<string[]> {
    const names = new Set<string>();
    for await (const page of this.#bucket.list(assertKey(prefix), '/')) {
      // An appendable is both an object and a prefix (its pieces): one name.
      for (const name of [...page.keys, ...page.prefixes]) names.add(name);
    }
    return [...names].sort();
  }

  async append(key: string, offset: number | undefined, body: AsyncIterable<Uint8Array>, opts: AppendOptions = {}): Promise<number> {
    return this.#appendables.append(assertKey(key), offset, body, opts.note);
  }

  async commit(from: string, to: string, size?: number, opts: CommitOptions = {}): Promise<number> {
    assertKey(from);
    assertKey(to);
    const { label } = opts;
    // The target's HEAD is only worth its round trip where it spares a multi-part copy; a blob of
    // one piece is copied whether it is there or not (same digest, same bytes). Asked at once,
    // beside the source, when the caller's size already says it is large.
    let existing: Promise<unknown> | undefined;
    const exists = (): Promise<unknown> => (existing ??= this.#bucket.head(to));
    if (size !== undefined && size > this.#partSize) exists().catch(() => undefined);
    // At the size (or label) the caller verified, the pointer is taken at its word: if steps went
    // past it, the seal's create-only write at that size fails and says so. Otherwise the steps decide.
    const pinned = size !== undefined || label !== undefined;
    const stands = (s: AppendState): boolean => (size === undefined || s.size === size) && (label === undefined || s.label === label);
    let found = await this.#appendables.load(from, undefined, { pointer: pinned });
    if (found?.kind === 'appendable' && pinned && !stands(found.state)) found = await this.#appendables.load(from);
    const what = `commit ${this.#bucket.where(from)} to ${to}${label === undefined ? '' : ' as labelled'}`;
    if (!found) throw new StorageError('missing', `${what}: no such object`);
    if (found.kind === 'plain') {
      await found.object.body.cancel();
      const actual = found.object.size;
      if ((size !== undefined && actual !== size) || label !== undefined) throw conflict(what, size ?? actual, actual);
      if (actual <= this.#limits.singleCopy || !(await exists())) await copyObject(this.#bucket, from, to, actual, this.#partSize, this.#limits);
      if (!opts.leaveSource) await this.#bucket.delete(from);
      return actual;
    }
    if (!stands(found.state)) throw conflict(what, size ?? found.state.size, found.state.size);
    // Already there, whole, from the append that stored it at its home: nothing to seal, as
    // nothing is copied, and an append since would not change what is there.
    if (homePiece(found.state)?.key === to) {
      if (!opts.leaveSource) await this.#deleteAppendable(from);
      return found.state.size;
    }
    // The source goes once the target is there, so its pointer need not learn of the seal.
    const state = await this.#appendables.seal(from, found.state, { pointer: false });
    const parts = partPieces(from, state);
    const tail = tailPieces(from, state);
    // Same digest, same bytes: an existing target is kept as it is.
    if (parts.length === 0 || !(await exists())) await assemble(this.#bucket, to, parts, tail);
    if (!opts.leaveSource) await this.#deleteAppendable(from);
    return state.size;
  }

  /** An appendable's pieces and its pointer, in one listing and one round of deletes. */
  async #deleteAppendable(key: string): Promise<void> {
    const pieces: string[] = [];
    for await (const page of this.#bucket.list(key)) pieces.push(...page.keys.map((k) => `${key}/${k}`));
    // At once: what a delete cut short leaves is unreferenced, like the pieces of a crashed append.
    await this.#bucket.deleteMany([...pieces, key]);
  }

  /** Releases the client's connections. */
  close(): void {
    this.#presigner?.close();
    this.#bucket.client.destroy();
  }

  /** Checks that the bucket answers and these credentials may use it, with a message that says which is wrong. */
  async init(): Promise<void> {
    try {
      await this.#bucket.check();
    } catch (e) {
      const status = (e as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause?.$metadata?.httpStatusCode;
      const { name } = this.#bucket;
      if (status === 404) throw new StorageError('unavailable', `bucket "${name}" does not exist; create it first`, { cause: e });
      if (status === 403) throw new StorageError('denied', `access to bucket "${name}" denied; check the credentials and the bucket policy`, { cause: e });
      throw storageError(e, 'the bucket check');
    }
    // Once per process: readiness checks call init again, and a store does not lose the feature.
    this.#conditionalCreate ??= requireConditionalCreate(this.#bucket).catch((e: unknown) => {
      this.#conditionalCreate = undefined;
      throw e;
    });
    await this.#conditionalCreate;
  }
}
