import { z } from 'zod';
import { duration } from '../config/duration.ts';
import { repositoryPattern, tagSelectorFields } from '../config/patterns.ts';

const keepTags = z
  .object({
    ...tagSelectorFields,
    mostRecentlyPushedCount: z.number().int().positive().optional().describe('Keep the N tags (of those this entry picks) pushed most recently.'),
    mostRecentlyPulledCount: z.number().int().positive().optional().describe('Keep the N tags (of those this entry picks) pulled most recently; a tag never pulled is not among them.'),
    pushedWithin: duration.optional().describe('Keep tags pushed within this long ("30d").'),
    pulledWithin: duration.optional().describe('Keep tags pulled within this long ("7d"), and those pushed within it, which may not have been pulled yet.'),
  })
  .strict();

const dropTags = z
  .object(tagSelectorFields)
  .strict()
  .refine((d) => d.patterns !== undefined || d.semver !== undefined, { message: 'a dropTags entry must give patterns or semver (it would drop every tag)' });

const rule = z
  .object({
    repositories: z.array(repositoryPattern).min(1).describe('Repository name globs (`ci/**`, `team/*`); a repository follows the first rule that names it.'),
    keepTags: z
      .array(keepTags)
      .min(1)
      .optional()
      .describe(
        'What tags stay. A tag belongs to the first entry that picks it (`patterns`, `semver`) and stays if any of that entry\'s conditions holds, or, with no conditions, because it was picked; a tag no entry picks is deleted. Absent: tags stay (but for `dropTags`).',
      ),
    dropTags: z.array(dropTags).default([]).describe('Tags deleted whatever `keepTags` says (`patterns`, `semver`).'),
    deleteUntaggedAfter: duration
      .optional()
      .describe('Delete manifests no kept tag reaches (directly, through an index, or as a referrer) once they were pushed this long ago ("7d"). Absent: manifests that were untagged before the pass stay; those whose last tag it deletes go.'),
  })
  .strict()
  .refine((r) => r.keepTags !== undefined || r.dropTags.length > 0 || r.deleteUntaggedAfter !== undefined, {
    message: 'a rule must give keepTags, dropTags or deleteUntaggedAfter',
  });

export type RetentionRule = z.output<typeof rule>;

/** The `retention:` block: rules that expire tags and manifests of push repositories, and the pull times they weigh. */
export const retentionSchema = z
  .object({
    rules: z
      .array(rule)
      .default([])
      .describe(
        'Per repository pattern, what to keep (like zot\'s retention policies). Signatures, SBOMs and other referrers (and cosign\'s `sha256-<hex>.sig` tags) follow their subject: they go when it goes, never before. Immutable tags (`tags.immutable`) are always kept. Mirrored repositories follow `mirror.retention` instead.',
      ),
    interval: duration.prefault(0).describe('Apply the rules inside the server this often; 0 (the default) leaves it to `berth retention`.'),
    dryRun: z.boolean().default(false).describe('The server only logs what the rules would delete.'),
    pullsFlushInterval: duration
      .prefault('1m')
      .refine((d) => d > 0, { message: 'must be more than 0' })
      .describe('Pull times are noted in memory and written this often: one small object per repository pulled since (also as the server stops).'),
  })
  .strict()
  .prefault({})
  .describe('Retention rules for push repositories, and the pull times they and the UI read.');
