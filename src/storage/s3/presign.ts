import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StorageError } from '../errors.ts';
import type { Bucket } from './bucket.ts';
import { createS3Client } from './client.ts';
import { storageError } from './errors.ts';
import type { S3Options } from './schema.ts';

type GetSignedUrl = typeof import('@aws-sdk/s3-request-presigner').getSignedUrl;

/**
 * Presigned GET URLs of objects, for `storage.s3.redirect`: a client fetches the bytes from the
 * store (or the CDN in front of it) itself. The URL grants a GET of that one object until it
 * expires and carries no secret: the access key id, the signature and, with temporary
 * credentials, the session token that goes with them (S3 needs it to check the signature).
 */
export class Presigner {
  readonly #bucket: Bucket;
  readonly #options: S3Options;
  /** Seconds, as X-Amz-Expires counts them. */
  readonly #expiresIn: number;
  readonly #baseUrl: string | undefined;
  #signing: Promise<{ sign: GetSignedUrl; client: S3Client }> | undefined;
  #ownClient: S3Client | undefined;

  constructor(bucket: Bucket, options: S3Options) {
    this.#bucket = bucket;
    this.#options = options;
    this.#expiresIn = Math.floor(options.redirect.expiry / 1000);
    this.#baseUrl = options.redirect.baseUrl?.replace(/\/+$/, '');
  }

  /** A URL that GETs the object under `key` (a driver key) for the configured expiry. */
  async url(key: string): Promise<string> {
    const { sign, client } = await this.#load();
    let signed: string;
    try {
      signed = await sign(
        client,
        // The store answers with berth's own type for blobs, not whatever it recorded.
        new GetObjectCommand({ Bucket: this.#bucket.name, Key: this.#bucket.key(key), ResponseContentType: 'application/octet-stream' }),
        { expiresIn: this.#expiresIn },
      );
    } catch (e) {
      // Signing is local; only resolving credentials (the SDK's default chain) can fail.
      throw storageError(e, `presigning GET ${this.#bucket.where(key)}`);
    }
    if (this.#baseUrl === undefined) return signed;
    const url = new URL(signed);
    return `${this.#baseUrl}${url.pathname}${url.search}`;
  }

  /** Drops the signing client made for `redirect.endpoint`, if any. */
  close(): void {
    this.#ownClient?.destroy();
  }

  /**
   * The presigner package is loaded on the first redirect, so a registry that never redirects
   * never loads it. With `redirect.endpoint`, URLs are signed by a client of their own for that
   * endpoint (it only signs: it never opens a connection).
   */
  #load(): Promise<{ sign: GetSignedUrl; client: S3Client }> {
    this.#signing ??= import('@aws-sdk/s3-request-presigner').then(
      ({ getSignedUrl }) => {
        const { endpoint } = this.#options.redirect;
        if (endpoint !== undefined) this.#ownClient ??= createS3Client({ ...this.#options, endpoint });
        return { sign: getSignedUrl, client: this.#ownClient ?? this.#bucket.client };
      },
      (e: unknown) => {
        this.#signing = undefined;
        throw new StorageError('failed', `loading @aws-sdk/s3-request-presigner: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      },
    );
    return this.#signing;
  }
}
