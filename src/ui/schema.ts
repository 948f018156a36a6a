import { z } from 'zod';
import { duration } from '../config/duration.ts';

/** Paths berth answers itself; the UI may not sit on or under them. */
const taken = ['/v2', '/token', '/healthz', '/readyz', '/metrics', '/.well-known'];

const uiPath = z
  .string()
  .regex(/^\/(?:[a-z0-9][a-z0-9._-]*(?:\/[a-z0-9][a-z0-9._-]*)*)?$/, 'must be "/" or a path like "/ui" (lowercase, no trailing slash)')
  .refine((p) => !taken.some((t) => p === t || p.startsWith(`${t}/`)), `must not be one of berth's own paths (${taken.join(', ')})`);

/** The web UI (src/ui): server-rendered pages over the registry's API, from the same app. */
export const uiSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the web UI.'),
    path: uiPath.default('/ui').describe('Where the UI lives; `GET /` redirects there. `"/"` serves it at the root.'),
    pageSize: z.number().int().min(10).max(1000).default(100).describe('Repositories and tags per page.'),
    session: z
      .object({
        secret: z
          .string()
          .min(32, 'must be at least 32 characters')
          .optional()
          .describe('Signs the UI\'s session cookies. Replicas behind one load balancer need the same one. Default: random per process, so sign-ins end when it stops.'),
        lifetime: duration.prefault('12h').describe('How long a sign-in lasts.'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type UiOptions = z.output<typeof uiSchema>;
