/**
 * What a retention rule (`retention.rules`) decides for one repository, from what the pass read of
 * it: which tags go, and which manifests go with them. Pure: no storage here, so every decision can
 * be explained (the rule and the reason travel with it) and tested on its own.
 *
 * Tags: an immutable tag stays; a tag naming a referrer (its manifest has a subject stored here, or
 * it is cosign's `sha256-<hex>.sig`/`.att`/`.sbom` or the referrers fallback `sha256-<hex>`)
 * follows that subject; any other tag is deleted when a `dropTags` entry picks it, else decided by
 * the first `keepTags` entry that picks it (kept when one of that entry's conditions holds, or when
 * it has none), else deleted if the rule has `keepTags` at all.
 *
 * Manifests: what a kept tag reaches stays, through an index's children and through referrers (and
 * the tags following them); so do manifests that were untagged before this pass, unless
 * `deleteUntaggedAfter` is set and they were pushed longer ago than that. Everything else goes:
 * the manifests whose last tag this pass deletes, with the children and the referrers only they
 * kept. A signature or SBOM therefore goes with its subject and never before it.
 */
import { formatDuration, type Duration } from '../config/duration.ts';
import { describeSelector, tagMatcher } from '../config/patterns.ts';
import type { ImmutableTags } from '../registry/immutable.ts';
import { lastPulled, type PullTimes } from '../registry/usage.ts';
import type { RetentionRule } from './schema.ts';

/** A manifest link of the repository, keyed by its digest (`sha256:...`). */
export interface HeldManifest {
  key: string;
  /** When it was pushed (its link written), ms. */
  linked: number;
  /** The manifests an index lists. */
  children: readonly string[];
  subject?: string | undefined;
}

export interface HeldTag {
  tag: string;
  /** The digest it points at; undefined when it holds none. */
  target?: string | undefined;
  /** When it was pushed (written), ms. */
  pushed?: number | undefined;
}

export interface RepositoryState {
  name: string;
  manifests: ReadonlyMap<string, HeldManifest>;
  tags: readonly HeldTag[];
  pulls: PullTimes;
}

/** One decision and why: the rule that made it and the reason in words. */
export interface Decision {
  repository: string;
  /** A tag's decision; absent for a manifest's. */
  tag?: string;
  /** The manifest (a tag's target). */
  digest?: string;
  delete: boolean;
  /** `retention.rules[0]` */
  rule: string;
  reason: string;
}

export interface RepositoryPlan {
  /** Every tag's decision. */
  tags: Decision[];
  /** The manifests that go (with their subject, whose referrer entry goes with them). */
  manifests: Array<Decision & { digest: string; subject?: string | undefined }>;
}

export interface PlanOptions {
  now: number;
  immutable?: ImmutableTags | undefined;
}

const referrerTag = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.[A-Za-z0-9_-]+)?$/;

/** The subject a cosign-style or referrers-fallback tag names (`sha256:...`), if it is one. */
function namedSubject(tag: string): string | undefined {
  const m = referrerTag.exec(tag);
  if (!m) return undefined;
  const [, algorithm, hex] = m;
  return (algorithm === 'sha256') === (hex!.length === 64) ? `${algorithm}:${hex}` : undefined;
}

const when = (ms: number | undefined, none: string): string => (ms === undefined ? none : new Date(ms).toISOString());

const plural = (items: readonly string[]): string => (items.length === 1 ? `its tag ${items[0]} goes` : `its tags ${items.join(', ')} go`);

export function planRepository(state: RepositoryState, rule: RetentionRule, ruleName: string, opts: PlanOptions): RepositoryPlan {
  const { name, manifests, pulls } = state;
  const { now } = opts;
  const tagDecisions = new Map<string, Decision>();
  const decide = (t: HeldTag, del: boolean, reason: string): void => {
    tagDecisions.set(t.tag, { repository: name, tag: t.tag, ...(t.target === undefined ? {} : { digest: t.target }), delete: del, rule: ruleName, reason });
  };
  const window = rule.deleteUntaggedAfter as Duration | undefined;

  // Which tags follow a subject, which are left to the rule.
  const following = new Map<string, HeldTag[]>();
  const ruled: HeldTag[] = [];
  for (const t of state.tags) {
    const protection = opts.immutable?.protecting(name, t.tag);
    if (protection) {
      decide(t, false, `immutable (${protection.rule})`);
      continue;
    }
    const named = namedSubject(t.tag);
    const target = t.target === undefined ? undefined : manifests.get(t.target);
    const subject = named ?? (target?.subject !== undefined && manifests.has(target.subject) ? target.subject : undefined);
    if (subject !== undefined && manifests.has(subject)) following.set(subject, [...(following.get(subject) ?? []), t]);
    else if (named !== undefined) {
      // Names a subject that is not here (deleted before, or not pushed yet): kept until the untagged window says otherwise.
      if (window !== undefined && t.pushed !== undefined && now - t.pushed > window) {
        decide(t, true, `names ${named}, which is not in the repository, and was pushed more than ${formatDuration(window)} ago`);
      } else decide(t, false, `names ${named}, which is not in the repository (yet)`);
    } else ruled.push(t);
  }
  decideByRule(ruled, rule, pulls, now, decide);

  // What stays: the closure of kept tags' targets and of manifests untagged before this pass.
  const referrers = new Map<string, string[]>();
  for (const m of manifests.values()) if (m.subject !== undefined && manifests.has(m.subject)) referrers.set(m.subject, [...(referrers.get(m.subject) ?? []), m.key]);
  const closure = (seeds: Iterable<string | undefined>): Set<string> => {
    const reached = new Set<string>();
    const queue: string[] = [];
    const reach = (key: string | undefined): void => {
      if (key === undefined || reached.has(key) || !manifests.has(key)) return;
      reached.add(key);
      queue.push(key);
    };
    for (const key of seeds) reach(key);
    for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
      for (const child of manifests.get(key)!.children) reach(child);
      for (const r of referrers.get(key) ?? []) reach(r);
      for (const t of following.get(key) ?? []) reach(t.target);
    }
    return reached;
  };
  const taggedBefore = closure(state.tags.map((t) => t.target));
  const keptTargets = [...tagDecisions.values()].filter((d) => !d.delete).map((d) => d.digest);
  const untaggedKept = [...manifests.values()].filter((m) => !taggedBefore.has(m.key) && (window === undefined || now - m.linked <= window)).map((m) => m.key);
  const reached = closure([...keptTargets, ...untaggedKept]);

  for (const [subject, tags] of following) {
    for (const t of tags) decide(t, !reached.has(subject), reached.has(subject) ? `follows ${subject}, which stays` : `follows ${subject}, which goes`);
  }

  const deletedTagsOf = new Map<string, string[]>();
  for (const d of tagDecisions.values()) if (d.delete && d.digest !== undefined) deletedTagsOf.set(d.digest, [...(deletedTagsOf.get(d.digest) ?? []), d.tag!]);
  const goneParents = new Map<string, string>();
  for (const m of manifests.values()) if (!reached.has(m.key)) for (const child of m.children) goneParents.set(child, m.key);

  const gone: RepositoryPlan['manifests'] = [];
  for (const m of manifests.values()) {
    if (reached.has(m.key)) continue;
    const tags = deletedTagsOf.get(m.key);
    let reason: string;
    if (tags) reason = plural(tags);
    else if (m.subject !== undefined && manifests.has(m.subject)) reason = `its subject ${m.subject} goes`;
    else if (goneParents.has(m.key)) reason = `only ${goneParents.get(m.key)!}, which goes, lists it`;
    else if (m.subject !== undefined) reason = `a referrer of ${m.subject}, which is not in the repository, pushed more than ${formatDuration(window!)} ago`;
    else reason = `untagged, pushed more than ${formatDuration(window!)} ago`;
    gone.push({ repository: name, digest: m.key, subject: m.subject, delete: true, rule: ruleName, reason });
  }
  return { tags: [...tagDecisions.values()], manifests: gone };
}

/** `dropTags`, then the first `keepTags` entry picking each tag and its conditions. */
function decideByRule(tags: readonly HeldTag[], rule: RetentionRule, pulls: PullTimes, now: number, decide: (t: HeldTag, del: boolean, reason: string) => void): void {
  const drops = rule.dropTags.map((d, i) => ({ picks: tagMatcher(d), what: `dropTags[${i}] (${describeSelector(d)})` }));
  const keeps = (rule.keepTags ?? []).map((k, i) => ({ entry: k, picks: tagMatcher(k), what: `keepTags[${i}] (${describeSelector(k)})`, tags: [] as HeldTag[] }));
  for (const t of tags) {
    const drop = drops.find((d) => d.picks(t.tag));
    if (drop) {
      decide(t, true, `picked by ${drop.what}`);
      continue;
    }
    if (rule.keepTags === undefined) {
      decide(t, false, 'the rule has no keepTags');
      continue;
    }
    const keep = keeps.find((k) => k.picks(t.tag));
    if (keep) keep.tags.push(t);
    else decide(t, true, 'picked by no keepTags entry');
  }
  for (const { entry, what, tags: picked } of keeps) {
    const pulledAt = (t: HeldTag): number | undefined => lastPulled(pulls, t.tag, t.target);
    const keptBy = new Map<string, string>();
    const conditions: string[] = [];
    const keepIf = (condition: string, holds: (t: HeldTag) => boolean): void => {
      conditions.push(condition);
      for (const t of picked) if (!keptBy.has(t.tag) && holds(t)) keptBy.set(t.tag, `${what}: ${condition}`);
    };
    const newest = (time: (t: HeldTag) => number | undefined, n: number): Set<string> =>
      new Set(
        picked
          .filter((t) => time(t) !== undefined)
          .sort((a, b) => time(b)! - time(a)! || (a.tag < b.tag ? -1 : 1))
          .slice(0, n)
          .map((t) => t.tag),
      );
    if (entry.mostRecentlyPushedCount !== undefined) {
      const top = newest((t) => t.pushed, entry.mostRecentlyPushedCount);
      keepIf(`mostRecentlyPushedCount ${entry.mostRecentlyPushedCount}`, (t) => top.has(t.tag));
    }
    if (entry.mostRecentlyPulledCount !== undefined) {
      const top = newest(pulledAt, entry.mostRecentlyPulledCount);
      keepIf(`mostRecentlyPulledCount ${entry.mostRecentlyPulledCount}`, (t) => top.has(t.tag));
    }
    const within = (at: number | undefined, window: Duration): boolean => at !== undefined && now - at <= window;
    const { pushedWithin, pulledWithin } = entry;
    if (pushedWithin !== undefined) keepIf(`pushedWithin ${formatDuration(pushedWithin)}`, (t) => within(t.pushed, pushedWithin));
    if (pulledWithin !== undefined) keepIf(`pulledWithin ${formatDuration(pulledWithin)}`, (t) => within(pulledAt(t), pulledWithin) || within(t.pushed, pulledWithin));
    for (const t of picked) {
      if (conditions.length === 0) decide(t, false, `picked by ${what}`);
      else if (keptBy.has(t.tag)) decide(t, false, keptBy.get(t.tag)!);
      else decide(t, true, `picked by ${what}, none of whose conditions holds (${conditions.join(', ')}): pushed ${when(t.pushed, 'at an unknown time')}, last pulled ${when(pulledAt(t), 'never')}`);
    }
  }
}
