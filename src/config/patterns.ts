/**
 * The patterns settings use to pick repositories and tags: globs for repository names (as access
 * rules, retention rules and tag immutability all name them), regular expressions and semver
 * ranges for tags.
 */
import { z } from 'zod';
import { parseRange, parseVersion } from './semver.ts';

/** `*` stays within one path component, `**` crosses components, `?` is one character. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.\\+^$(){}|[\]-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Repository patterns: `*` stays inside one path component, `**` crosses them, `?` is one character. */
export const repositoryPattern = z.string().regex(/^[a-z0-9._\-/*?]{1,255}$/, 'must be a repository name pattern like "team/*" or "public/**"');

/** A repository name prefix: whole name components, no leading or trailing slash (`team`, `team/ci`). */
export const repositoryPrefix = z
  .string()
  .max(255)
  .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'must be a repository name prefix like "team" or "team/ci"');

/** Whether a name matches any of the globs. */
export function repositoryMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (name) => res.some((re) => re.test(name));
}

/** A regular expression a whole tag must match (`v\d+\..*`, `.*-prod`): anchored at both ends. */
const tagRegex = z.string().min(1).refine(
  (s) => {
    try {
      new RegExp(s, 'u');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a regular expression' },
);

const semverRange = z.string().refine((s) => parseRange(s) !== undefined, { message: 'must be a semver range like ">=1.2.0 <2", "^1.4" or "1.x || 2.x"' });

/** The fields that pick tags, shared by retention's `keepTags`/`dropTags` and `tags.immutable`. */
export const tagSelectorFields = {
  patterns: z.array(tagRegex).min(1).optional().describe('Regular expressions; a tag is picked when one matches it whole (`v1\\..*`, `.*-prod`). Absent: every tag.'),
  semver: semverRange
    .optional()
    .describe('A semver range (npm syntax: `>=1.2 <2`, `^1.4`, `~2.0`, `1.x || 2.x`); only tags that are whole versions (`1.2.3`, `v1.2.3-rc.1`) and satisfy it are picked. With `patterns`, a tag must satisfy both.'),
};

export interface TagSelector {
  patterns?: readonly string[] | undefined;
  semver?: string | undefined;
}

/** Whether a tag is picked: one of the patterns matches it whole (when given), and it is a version in the range (when given). */
export function tagMatcher(selector: TagSelector): (tag: string) => boolean {
  const res = selector.patterns?.map((p) => new RegExp(`^(?:${p})$`, 'u'));
  const range = selector.semver === undefined ? undefined : parseRange(selector.semver);
  return (tag) => {
    if (res && !res.some((re) => re.test(tag))) return false;
    if (!range) return true;
    const version = parseVersion(tag);
    return version !== undefined && range(version);
  };
}

/** How a selector reads in a message: `patterns v.*, semver >=1`. */
export function describeSelector(selector: TagSelector): string {
  const parts: string[] = [];
  if (selector.patterns) parts.push(`patterns ${selector.patterns.join(', ')}`);
  if (selector.semver !== undefined) parts.push(`semver ${selector.semver}`);
  return parts.length === 0 ? 'every tag' : parts.join('; ');
}
