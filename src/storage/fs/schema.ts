import { z } from 'zod';
import { filePath } from '../../config/path.ts';
import { size } from '../../config/size.ts';

/** Local-disk storage. */
export const fsSchema = z
  .object({
    root: filePath.default('./data').describe('The directory holding blobs, repositories and upload sessions.'),
    fsync: z
      .boolean()
      .default(true)
      .describe('Acknowledge a blob, manifest, link or tag only once it is on stable storage (fsync of the file, rename, fsync of the directory). Off is faster and loses recent pushes on power loss.'),
    minFreeSpace: size
      .prefault('1GiB')
      .describe('/readyz reports not ready while the filesystem has less free space than this (0: never), so a load balancer sends pushes elsewhere before the disk fills.'),
  })
  .strict();

export type FsOptions = z.output<typeof fsSchema>;
