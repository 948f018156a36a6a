import { z } from 'zod';
import { authSchema } from '../auth/schema.ts';
import { mirrorSchema } from '../mirror/schema.ts';
import { uiSchema } from '../ui/schema.ts';
import { size } from './size.ts';

const listen = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT, e.g. 0.0.0.0:5000 or [::1]:5000')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in a duration such as `90s`, `30m`, `24h` or `7d`; undefined when it is not one. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(s.trim());
  return m ? Math.round(Number(m[1]) * (durationUnits[m[2]!] ?? 0)) : undefined;
}

/** Durations as seconds or with a unit: 3600, "30m", "24h", "7d"; read as milliseconds. */
const duration = z.union([
  z.number().nonnegative().transform((n) => n * 1000),
  z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'must be a duration like 90s, 30m, 24h or 7d')
    .transform((s) => parseDuration(s) ?? 0),
]);

const mib = 1024 * 1024;

/** S3 storage (DESIGN.md: the shared store behind many replicas). */
const s3 = z
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
  })
  .strict()
  .refine((o) => (o.accessKeyId === undefined) === (o.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together',
    path: ['secretAccessKey'],
  });

export type S3Options = z.output<typeof s3>;

export const configSchema = z
  .object({
    listen: listen.default('0.0.0.0:5000').describe('Address the server listens on.'),
    storage: z
      .object({
        fs: z.object({ root: z.string().min(1).default('./data') }).strict().optional().describe('Local-disk storage: the directory holding blobs, repositories and upload sessions.'),
        s3: s3.optional().describe('An S3 bucket (AWS or compatible) shared by any number of replicas.'),
      })
      .strict()
      .prefault({})
      // One backend is used. `s3`, when set, wins over `fs`, which may come from BERTH_DATA or
      // --data (a container image sets those) without the operator meaning to pick local disk.
      .transform((s): { fs: { root: string }; s3?: undefined } | { s3: S3Options; fs?: undefined } =>
        s.s3 ? { s3: s.s3 } : { fs: s.fs ?? { root: './data' } },
      ),
    manifests: z
      .object({
        maxSize: size.prefault('4MiB').describe('Largest manifest accepted; larger ones get 413.'),
      })
      .strict()
      .prefault({}),
    uploads: z
      .object({
        chunkMinLength: size.prefault(1).describe('Advertised to clients as OCI-Chunk-Min-Length.'),
        purgeAfter: duration.prefault('24h').describe('Upload sessions idle this long are deleted (hourly while serving, and by `berth gc`).'),
      })
      .strict()
      .prefault({}),
    delete: z
      .object({
        blobs: z.boolean().default(true).describe('DELETE /v2/<name>/blobs/<digest>.'),
        manifests: z.boolean().default(true).describe('DELETE /v2/<name>/manifests/<digest>.'),
        tags: z.boolean().default(true).describe('DELETE /v2/<name>/manifests/<tag>.'),
      })
      .strict()
      .prefault({}),
    mirror: mirrorSchema.prefault({}).describe('Pull-through mirroring of upstream registries; no upstreams (the default) is a plain push registry.'),
    cache: z
      .object({
        maxBytes: size.prefault('64MiB').describe('Bytes of cached objects; 0 turns the cache off.'),
        ttl: z
          .number()
          .nonnegative()
          .optional()
          .describe('Seconds a cached tag or link is trusted; 0 is until evicted (exact on one process). Default: 0 on local disk, 2 on S3, where other replicas may move a tag.'),
      })
      .strict()
      .prefault({})
      .describe('In-memory LRU of manifests, links and tags, so hot manifest GETs skip storage.'),
    auth: authSchema.prefault({}).describe('Access control; `mode: none` (the default) leaves the registry open.'),
    ui: uiSchema.prefault({}).describe('The web UI: repositories, tags, manifests, referrers, the mirror and storage, in a browser. Signs in with the same users and rules as the API.'),
    metrics: z
      .object({
        enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics.'),
        listen: listen.optional().describe('Serve /metrics on this HOST:PORT instead of the registry\'s address (e.g. 127.0.0.1:9090).'),
        token: z.string().min(16, 'must be at least 16 characters').optional().describe('Require `Authorization: Bearer <token>` on /metrics.'),
      })
      .strict()
      .prefault({}),
    gc: z
      .object({
        interval: duration.prefault(0).describe('Run garbage collection inside the server this often; 0 (the default) leaves it to `berth gc`.'),
        grace: duration.prefault('1h').describe('What is younger than this is never collected (pushes under way).'),
        deleteUntagged: z.boolean().default(false).describe('Also delete manifests no tag reaches.'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
        requests: z.boolean().default(true).describe('One JSON line per request (method, path, status, bytes, duration, repository, user).'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** What a config file or `createRegistry` may give; every key is optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** The effective configuration, defaults filled in. */
export type Config = z.output<typeof configSchema>;
