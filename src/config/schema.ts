import { z } from 'zod';
import { authSchema } from '../auth/schema.ts';

const listen = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT, e.g. 0.0.0.0:5000 or [::1]:5000')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

/** Sizes as bytes or with a binary unit: 4194304, "4MiB", "512KiB". */
const size = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(?:\.\d+)?\s*(?:B|KiB|MiB|GiB|KB|MB|GB)?$/i, 'must be a byte count like 4194304 or "4MiB"')
    .transform(parseSize),
]);

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  const units: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };
  return Math.round(Number(m?.[1]) * (units[(m?.[2] ?? '').toLowerCase()] ?? 1));
}

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

export const configSchema = z
  .object({
    /** Address the server listens on. */
    listen: listen.default('0.0.0.0:5000'),
    storage: z
      .object({
        /** Local-disk storage: the directory holding blobs, repositories and upload sessions. */
        fs: z.object({ root: z.string().min(1).default('./data') }).strict().prefault({}),
      })
      .strict()
      .prefault({}),
    manifests: z
      .object({
        /** Largest manifest accepted; larger ones get 413. */
        maxSize: size.default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    uploads: z
      .object({
        /** Advertised to clients as OCI-Chunk-Min-Length. */
        chunkMinLength: size.default(1),
        /** Upload sessions idle this long are deleted (hourly while serving, and by `berth gc`). */
        purgeAfter: duration.default(24 * 3_600_000),
      })
      .strict()
      .prefault({}),
    delete: z
      .object({
        /** DELETE /v2/<name>/blobs/<digest>. */
        blobs: z.boolean().default(true),
        /** DELETE /v2/<name>/manifests/<digest>. */
        manifests: z.boolean().default(true),
        /** DELETE /v2/<name>/manifests/<tag>. */
        tags: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Access control; `mode: none` (the default) leaves the registry open. */
    auth: authSchema.prefault({}),
    metrics: z
      .object({
        /** Serve Prometheus metrics at /metrics. */
        enabled: z.boolean().default(true),
        /** Serve /metrics on this HOST:PORT instead of the registry's address (e.g. 127.0.0.1:9090). */
        listen: listen.optional(),
        /** Require `Authorization: Bearer <token>` on /metrics. */
        token: z.string().min(16, 'must be at least 16 characters').optional(),
      })
      .strict()
      .prefault({}),
    gc: z
      .object({
        /** Run garbage collection inside the server this often; 0 (the default) leaves it to `berth gc`. */
        interval: duration.default(0),
        /** What is younger than this is never collected (pushes under way). */
        grace: duration.default(3_600_000),
        /** Also delete manifests no tag reaches. */
        deleteUntagged: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
        /** One JSON line per request (method, path, status, bytes, duration, repository, user). */
        requests: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** What a config file or `createRegistry` may give; every key is optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** The effective configuration, defaults filled in. */
export type Config = z.output<typeof configSchema>;
