import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { size } from '../config/size.ts';

/** The `cache:` block: the in-memory LRU in front of storage (src/cache/driver.ts). */
export const cacheSchema = z
  .object({
    maxBytes: size.prefault('64MiB').describe('Bytes of cached objects; 0 turns the cache off.'),
    ttl: duration
      .optional()
      .describe('Unset (the default), every replica sees every write at once: on local disk a cached tag or link holds until this process replaces it; on S3 each read asks storage, or Redis whether it changed (`coordination.redis`). Set, a cached tag or link is served that long without asking anyone, so a replica may answer that far behind another\'s writes; 0 keeps it until this process replaces it (one replica alone on a bucket).'),
  })
  .strict()
  .prefault({})
  .describe('In-memory LRU of manifests, links and tags, so hot manifest GETs skip storage.');
