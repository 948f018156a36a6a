import { z } from 'zod';
import { duration } from '../config/duration.ts';

const redisUrl = z
  .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
  .refine((u) => new URL(u).password === '', 'must not carry a password: put it in coordination.redis.password')
  .refine((u) => /^\/?\d*$/.test(new URL(u).pathname), 'the path may only name a database number (redis://host:6379/2)');

/** The `coordination:` block: what replicas on one bucket share beyond the bucket (src/coordination). */
export const coordinationSchema = z
  .object({
    redis: z
      .object({
        url: redisUrl.describe('The Redis (or Valkey) server every replica uses: `redis://host:6379`, `rediss://` for TLS, `/N` for database N.'),
        username: z.string().min(1).optional().describe('For Redis ACLs; without it the default user.'),
        password: z.string().min(1).optional().describe('The password (AUTH).'),
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9:._-]{1,64}$/, '1-64 of A-Z a-z 0-9 : . _ -')
          .default('berth:')
          .describe('Every key berth writes starts with this: give each registry sharing one Redis its own.'),
        timeout: duration
          .refine((ms) => ms > 0, 'must be more than 0')
          .prefault('250ms')
          .describe('A Redis command with no answer this long is given up, and berth goes on from storage (slower, still exact).'),
      })
      .strict()
      .optional()
      .describe('Replicas share a cache of tags, links and manifests, the mirror\'s one upstream fetch per digest, the login throttle, and turns for quota checks and immutable tags through Redis. Optional: without it every replica is still exact, reading mutable state from storage; with Redis unreachable the same.'),
  })
  .strict()
  .prefault({})
  .describe('What replicas on one bucket share beyond the bucket.');

export type CoordinationConfig = z.output<typeof coordinationSchema>;
export type RedisOptions = NonNullable<CoordinationConfig['redis']>;
