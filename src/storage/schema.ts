import { z } from 'zod';
import { fsSchema, type FsOptions } from './fs/schema.ts';
import { s3Schema, type S3Options } from './s3/schema.ts';

/** The `storage:` block: local disk or an S3 bucket. */
export const storageSchema = z
  .object({
    fs: fsSchema.optional().describe('Local-disk storage: the directory holding blobs, repositories and upload sessions.'),
    s3: s3Schema.optional().describe('An S3 bucket (AWS or compatible) shared by any number of replicas.'),
  })
  .strict()
  // One backend is used. `s3`, when set, wins over `fs`, which may come from BERTH_DATA or
  // --data (a container image sets those) without the operator meaning to pick local disk.
  .transform((s): { fs: FsOptions; s3?: undefined } | { s3: S3Options; fs?: undefined } => (s.s3 ? { s3: s.s3 } : { fs: s.fs ?? fsSchema.parse({}) }));

export type StorageConfig = z.output<typeof storageSchema>;
