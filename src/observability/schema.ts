import { z } from 'zod';
import { listen } from '../config/listen.ts';

/** The `log:` and `metrics:` blocks. */
export const observabilitySchemas = {
  metrics: z
    .object({
      enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics.'),
      listen: listen.optional().describe('Serve /metrics on this HOST:PORT instead of the registry\'s address (e.g. 127.0.0.1:9090).'),
      token: z.string().min(16, 'must be at least 16 characters').optional().describe('Require `Authorization: Bearer <token>` on /metrics.'),
      public: z
        .boolean()
        .optional()
        .describe(
          'Serve /metrics on the registry\'s address to anyone, without `token`. Default: yes while `auth.mode` is `none` (the registry is open anyway), no once access control is on (403 then, unless `token` is set).',
        ),
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
};
