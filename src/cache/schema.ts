import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { size } from '../config/size.ts';

/** The `cache:` block: the in-memory LRU in front of storage (src/cache/driver.ts). */
export const cacheSchema = z
  .object({
    maxBytes: size.prefault('64MiB').describe('Bytes of cached objects; 0 turns the cache off.'),
    ttl: duration
      .optional()
      .describe('How long a cached tag or link is trusted ("2s"); 0 is until evicted (exact on one process). Default: 0 on local disk, 2s on S3, where other replicas may move a tag.'),
  })
  .strict()
  .prefault({})
  .describe('In-memory LRU of manifests, links and tags, so hot manifest GETs skip storage.');
