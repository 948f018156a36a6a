import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { repositoryPattern, repositoryPrefix, tagSelectorFields } from '../config/patterns.ts';
import { size } from '../config/size.ts';

/** A rule of `tags.immutable`: which tags of which repositories never move once pushed. */
const immutableRule = z
  .object({
    repositories: z.array(repositoryPattern).min(1).describe('Repository name globs (`team/*`, `prod/**`) the rule covers.'),
    ...tagSelectorFields,
  })
  .strict();

export type ImmutableRule = z.output<typeof immutableRule>;

const quotaLimit = z
  .object({
    prefix: repositoryPrefix.describe('The repositories it covers: this name and every name under `prefix/` (`team` covers `team`, `team/app`, `team/ci/tool`).'),
    maxSize: size.describe('Bytes they may hold together (`50GiB`): manifests and the blobs they reference, each counted once however many of them share it.'),
  })
  .strict();

export type QuotaLimit = z.output<typeof quotaLimit>;

/** What the registry accepts (`manifests`, `uploads`, `delete`, `tags`) and how it collects what nothing uses (`gc`). */
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
  tags: z
    .object({
      immutable: z
        .array(immutableRule)
        .default([])
        .describe(
          'Tags that never move: once such a tag points at a manifest, pushing other content under it, deleting it, or deleting the manifest it points at is refused (409 DENIED, naming the rule). Pushing the same manifest again is fine. Retention never deletes them. Mirrored repositories are not covered. A protected tag\'s first write is create-only, so of pushes racing through several replicas to create it exactly one wins.',
        ),
    })
    .strict()
    .prefault({}),
  quotas: z
    .object({
      limits: z
        .array(quotaLimit)
        .default([])
        .describe('Storage limits per repository prefix, checked at manifest PUT: a push that would pass one is refused (403 DENIED, giving the limit, the usage and what the push adds). Every limit whose prefix holds a repository applies. Mirrored repositories are not counted (`mirror.retention` bounds them). Replicas on one bucket without `coordination.redis` may pass a limit by one manifest per replica pushing under the prefix at the same moment; with it, exact.'),
      recountInterval: duration
        .prefault('5m')
        .describe('On local disk, usage is counted from storage when first needed, then kept by this process\'s pushes; it is counted again after a delete here, and once this old (deletes by `berth gc` or `berth retention` beside the server). On S3 every check lists afresh what the prefix\'s repositories hold (other replicas push too); this then only sets how old the usage shown in metrics and the UI may be.'),
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
