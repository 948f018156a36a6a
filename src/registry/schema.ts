import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { size } from '../config/size.ts';

/** What the registry accepts (`manifests`, `uploads`, `delete`) and how it collects what nothing uses (`gc`). */
export const registrySchemas = {
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
  gc: z
    .object({
      interval: duration.prefault(0).describe('Run garbage collection inside the server this often; 0 (the default) leaves it to `berth gc`.'),
      grace: duration.prefault('1h').describe('What is younger than this is never collected (pushes under way).'),
      deleteUntagged: z.boolean().default(false).describe('Also delete manifests no tag reaches.'),
    })
    .strict()
    .prefault({}),
};
