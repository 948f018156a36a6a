import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { size } from '../../config/size.ts';

const mib = 1024 * 1024;

/** SigV4 presigned URLs live at most a week (X-Amz-Expires ≤ 604800). */
const maxExpiry = 7 * 24 * 3600 * 1000;

const publicUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Blob GETs answered with a 307 to a presigned URL (distribution's `storage.redirect`). */
const redirectSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('Answer blob GETs with a 307 to a presigned URL of the blob\'s object, so the bytes flow from the store, not through berth. Clients must reach the store (or `endpoint` / `baseUrl`).'),
    expiry: duration
      .refine((ms) => ms >= 1000 && ms <= maxExpiry, 'must be between 1s and 7d')
      .prefault('20m')
      .describe('How long a presigned URL stays valid; a client must start its download within it.'),
    endpoint: publicUrl
      .optional()
      .describe('The store as clients reach it, when that is not `storage.s3.endpoint` (a public name of the same store): URLs are signed for it, so requests must reach the store with this host in `Host`.'),
    baseUrl: publicUrl
      .optional()
      .describe('A CDN or proxy in front of the store: the presigned URL\'s path and query go under this URL. It must forward them unchanged to the store with the store\'s own `Host` (the signature covers it).'),
  })
  .strict()
  .refine((o) => o.endpoint === undefined || o.baseUrl === undefined, { message: 'endpoint and baseUrl exclude each other', path: ['baseUrl'] });

/** S3 storage (DESIGN.md: the shared store behind many replicas). */
export const s3Schema = z
  .object({
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 of a-z 0-9 . -)'),
    prefix: z
      .string()
      .default('')
      .transform((p) => p.replace(/^\/+|\/+$/g, ''))
      .refine((p) => p === '' || p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'), 'must be a plain key prefix like "berth" or "a/b"')
      .describe('Keys go under this prefix (e.g. `berth`), so one bucket can hold several registries.'),
    region: z.string().min(1).optional().describe('Default: AWS_REGION, else us-east-1 (what S3-compatible stores expect).'),
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional().describe('For S3-compatible stores (Ceph RGW, MinIO, R2): their URL. Absent means AWS.'),
    forcePathStyle: z.boolean().default(false).describe('Bucket in the path rather than the host name; most self-hosted stores need it.'),
    accessKeyId: z.string().min(1).optional().describe('Explicit keys; without them the SDK\'s default chain applies (env, profile, instance role).'),
    secretAccessKey: z.string().min(1).optional().describe('Goes with accessKeyId.'),
    sessionToken: z.string().min(1).optional().describe('For temporary credentials.'),
    // S3 wants at least 5 MiB for all parts but the last, at most 5 GiB, and at most 10,000 parts.
    partSize: size
      .refine((n) => n >= 5 * mib && n <= 5 * 1024 * mib, 'must be between 5MiB and 5GiB')
      .prefault('8MiB')
      .describe('Uploads are stored in parts of this size, which bounds the largest blob at 10,000 parts (80 GiB by default); memory per upload in flight is two parts.'),
    maxAttempts: z.number().int().min(1).max(20).default(5).describe('Attempts per S3 request; throttling, 5xx and network errors are retried with backoff.'),
    requestTimeout: duration
      .refine((ms) => ms > 0, 'must be more than 0')
      .prefault('15s')
      .describe('One attempt at an S3 request that has no answer this long after it began (sending its body included: a part of `partSize` must go up within it) is abandoned and retried.'),
    totalTimeout: duration
      .refine((ms) => ms > 0, 'must be more than 0')
      .prefault('45s')
      .describe('One S3 request, retries included, gives up after this long; the client gets 503 UNAVAILABLE with Retry-After.'),
    idleTimeout: duration
      .refine((ms) => ms > 0, 'must be more than 0')
      .prefault('2m')
      .describe('A connection to S3 silent this long is dead (a download paused by a slow client is silent too: keep it generous).'),
    redirect: redirectSchema.prefault({}).describe('Blob downloads straight from the store: GETs answered with a 307 to a presigned URL.'),
  })
  .strict()
  .refine((o) => (o.accessKeyId === undefined) === (o.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together',
    path: ['secretAccessKey'],
  })
  .refine((o) => o.totalTimeout >= o.requestTimeout, { message: 'must be at least requestTimeout', path: ['totalTimeout'] });

export type S3Options = z.output<typeof s3Schema>;
export type RedirectOptions = S3Options['redirect'];
