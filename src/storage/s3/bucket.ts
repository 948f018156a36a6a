import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ByteRange } from '../../oci/range.ts';
import { StorageError } from '../errors.ts';
import { isInvalidRange, isNotFound, isPreconditionFailed, storageError } from './errors.ts';

export interface ObjectHead {
  size: number;
  modified: Date;
  /** User metadata (`x-amz-meta-*`), names in lower case. */
  metadata: Record<string, string>;
}

export interface OpenObject extends ObjectHead {
  body: ReadableStream<Uint8Array>;
}

export interface ListPage {
  /** Object names relative to the listed prefix. */
  keys: string[];
  /** With a delimiter: the next level's names, relative and without the trailing `/`. */
  prefixes: string[];
}

const deleteBatch = 1000; // DeleteObjects' limit per request

const emptyStream = (): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => c.close() });

/** What every SDK call is given: the signal that ends it when the operation's deadline passes. */
export interface CallOptions {
  abortSignal: AbortSignal;
}

/**
 * One bucket under a key prefix, as the driver needs it: keys in and out are the driver's, the
 * prefix is added and removed here, and every SDK failure leaves as a StorageError (errors.ts).
 * Every call is bounded: the SDK gives up on one attempt after `storage.s3.requestTimeout`, and
 * the whole call, retries included, ends at `deadline` milliseconds whatever the SDK does.
 */
export class Bucket {
  readonly client: S3Client;
  readonly name: string;
  readonly #prefix: string;
  readonly #deadline: number;

  constructor(client: S3Client, name: string, prefix: string, deadline = 0) {
    this.client = client;
    this.name = name;
    this.#prefix = prefix === '' ? '' : `${prefix}/`;
    this.#deadline = deadline;
  }

  /** The S3 key of a driver key. */
  key(key: string): string {
    return this.#prefix + key;
  }

  /** A driver key as a URL, for messages. */
  where(key: string): string {
    return `s3://${this.name}/${this.key(key)}`;
  }

  /**
   * Runs one SDK call within the deadline; a failure leaves as the SDK threw it. The call ends at
   * the deadline even if the SDK is between retries (its backoff does not listen to the signal).
   */
  async #bounded<T>(call: (opts: CallOptions) => Promise<T>): Promise<T> {
    if (this.#deadline <= 0) return call({ abortSignal: new AbortController().signal });
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = Object.assign(new Error(`no answer within ${this.#deadline} ms (storage.s3.totalTimeout)`), { name: 'TimeoutError' });
        controller.abort(e);
        reject(e);
      }, this.#deadline);
    });
    try {
      return await Promise.race([call({ abortSignal: controller.signal }), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one SDK call, mapping its failure to a StorageError that says what was attempted. */
  async run<T>(what: string, call: (opts: CallOptions) => Promise<T>): Promise<T> {
    try {
      return await this.#bounded(call);
    } catch (e) {
      throw storageError(e, what);
    }
  }

  async check(): Promise<void> {
    await this.run(`HEAD s3://${this.name}`, (o) => this.client.send(new HeadBucketCommand({ Bucket: this.name }), o));
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const r = await this.#bounded((o) => this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: this.key(key) }), o));
      return { size: r.ContentLength ?? 0, modified: r.LastModified ?? new Date(0), metadata: r.Metadata ?? {} };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw storageError(e, `HEAD ${this.where(key)}`);
    }
  }

  /** Streams an object or an inclusive range of it. A range past the end gives no bytes. */
  async open(key: string, range?: ByteRange): Promise<OpenObject | undefined> {
    try {
      const r = await this.#bounded((o) =>
        this.client.send(new GetObjectCommand({ Bucket: this.name, Key: this.key(key), Range: range && `bytes=${range.start}-${range.end}` }), o),
      );
      const body = r.Body ? (r.Body.transformToWebStream() as ReadableStream<Uint8Array>) : emptyStream();
      return { body, size: r.ContentLength ?? 0, modified: r.LastModified ?? new Date(0), metadata: r.Metadata ?? {} };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (range && isInvalidRange(e)) {
        const head = await this.head(key);
        return head && { ...head, size: 0, body: emptyStream() };
      }
      throw storageError(e, `GET ${this.where(key)}`);
    }
  }

  /** A small object whole (links, tags, manifests, upload state). */
  async bytes(key: string): Promise<(ObjectHead & { bytes: Uint8Array<ArrayBuffer> }) | undefined> {
    const found = await this.open(key);
    return found && { ...found, bytes: await this.collect(key, found) };
  }

  /** Reads an opened object's body whole (it must be small: these are never blobs). */
  async collect(key: string, found: OpenObject): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(found.size);
    await this.#fill(key, found.body, out);
    return out;
  }

  /** Copies a body into `target`, which it must fill exactly. */
  async #fill(key: string, body: ReadableStream<Uint8Array>, target: Uint8Array): Promise<void> {
    let at = 0;
    try {
      for await (const chunk of body) {
        if (at + chunk.byteLength > target.byteLength) throw new StorageError('unavailable', `GET ${this.where(key)}: more than the ${target.byteLength} bytes expected`);
        target.set(chunk, at);
        at += chunk.byteLength;
      }
    } catch (e) {
      // A connection cut mid-object, or a stall past the idle timeout.
      throw storageError(e, `GET ${this.where(key)}`);
    }
    if (at !== target.byteLength) throw new StorageError('unavailable', `GET ${this.where(key)}: cut short at ${at} of ${target.byteLength} bytes`);
  }

  /** Fills `target` with the object's bytes from `start` on; the object must hold them all. */
  async readInto(key: string, start: number, target: Uint8Array): Promise<void> {
    if (target.byteLength === 0) return;
    const found = await this.open(key, { start, end: start + target.byteLength - 1 });
    if (!found) throw new StorageError('missing', `GET ${this.where(key)}: no such object`);
    await this.#fill(key, found.body, target);
  }

  /**
   * Writes an object in one request (atomic on S3). With `ifAbsent` the write only happens if the
   * key is free (`If-None-Match: *`); the result says whether it happened.
   */
  async put(key: string, body: Uint8Array, opts: { metadata?: Record<string, string>; ifAbsent?: boolean } = {}): Promise<boolean> {
    try {
      await this.#bounded((o) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.name,
            Key: this.key(key),
            Body: body,
            ContentLength: body.byteLength,
            Metadata: opts.metadata,
            IfNoneMatch: opts.ifAbsent ? '*' : undefined,
          }),
          o,
        ),
      );
      return true;
    } catch (e) {
      if (opts.ifAbsent && isPreconditionFailed(e)) return false;
      throw storageError(e, `PUT ${this.where(key)}`);
    }
  }

  async delete(key: string): Promise<void> {
    await this.run(`DELETE ${this.where(key)}`, (o) => this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: this.key(key) }), o));
  }

  async deleteMany(keys: string[]): Promise<void> {
    // One key goes alone; more in one batch: each request costs the store its own parsing and
    // authentication, which a fleet's store pays for on every pushed blob.
    if (keys.length <= 1) {
      await Promise.all(keys.map((k) => this.delete(k)));
      return;
    }
    for (let i = 0; i < keys.length; i += deleteBatch) {
      const batch = keys.slice(i, i + deleteBatch);
      const r = await this.run(`DELETE ${batch.length} objects from ${this.where(batch[0] ?? '')}`, (o) =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.name,
            Delete: { Objects: batch.map((k) => ({ Key: this.key(k) })), Quiet: true },
          }),
          o,
        ),
      );
      const failed = r.Errors?.[0];
      if (failed) throw storageError({ name: failed.Code, message: failed.Message }, `DELETE s3://${this.name}/${failed.Key ?? ''}`);
    }
  }

  /** Server-side copy of an object of at most 5 GiB (larger ones need a multipart copy). */
  async copy(from: string, to: string): Promise<void> {
    await this.run(`COPY ${this.where(from)} to ${this.key(to)}`, (o) =>
      this.client.send(new CopyObjectCommand({ Bucket: this.name, Key: this.key(to), CopySource: this.copySource(from) }), o),
    );
  }

  /** The `x-amz-copy-source` of a key: bucket and key, the key URL-encoded but for its slashes. */
  copySource(key: string): string {
    return `${this.name}/${encodeURIComponent(this.key(key)).replace(/%2F/g, '/')}`;
  }

  /**
   * Lists under `prefix/`, one page (up to 1000 names) at a time. With `delimiter` only one level
   * (names and sub-prefixes), without it every key below.
   */
  async *list(prefix: string, delimiter?: '/'): AsyncGenerator<ListPage> {
    const full = `${this.key(prefix)}/`;
    let token: string | undefined;
    do {
      const r = await this.run(`LIST ${this.where(prefix)}/`, (o) =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: full, Delimiter: delimiter, ContinuationToken: token }), o),
      );
      yield {
        keys: (r.Contents ?? []).flatMap((o) => (o.Key?.startsWith(full) ? [o.Key.slice(full.length)] : [])),
        prefixes: (r.CommonPrefixes ?? []).flatMap((p) =>
          p.Prefix?.startsWith(full) ? [p.Prefix.slice(full.length).replace(/\/$/, '')] : [],
        ),
      };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }
}
