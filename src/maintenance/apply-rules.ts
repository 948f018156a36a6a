import { repositoryMatcher } from '../config/patterns.ts';
import { formatDigest, parseDigest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { ImmutableTags } from '../registry/immutable.ts';
import type { Inventory } from '../registry/inventory.ts';
import type { PullRecords } from '../registry/usage.ts';
import { planRepository, type Decision, type HeldManifest, type HeldTag, type RepositoryPlan, type RepositoryState } from './rules.ts';
import type { RetentionRule } from './schema.ts';
import { manifestKey, needsOf, nothingExpired, sweep, type Expired } from './sweep.ts';

export interface RulesOptions {
  rules: readonly RetentionRule[];
  pulls: Pick<PullRecords, 'read' | 'forget'>;
  immutable?: ImmutableTags | undefined;
  /** Repositories no rule may touch (mirrored ones, which `mirror.retention` governs). */
  skip?: (name: string) => boolean;
  /** Bytes written this recently are kept (`gc.grace`): they may belong to a push under way. */
  graceMs: number;
  /** Count and explain what would go, delete nothing. */
  dryRun?: boolean;
  /** Also report the tags kept, and why. */
  explain?: boolean;
  now?: number;
  signal?: AbortSignal;
  /** Called with each deletion as it is decided, for the log. */
  onDecision?: (d: Decision) => void;
}

export interface RulesReport {
  /** Repositories a rule applies to. */
  repositories: number;
  /** Repositories that changed while they were looked at, left for the next pass. */
  skipped: number;
  tagsDeleted: number;
  manifestsDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** What goes (and, with `explain`, what stays), with the rule and the reason. */
  decisions: Decision[];
}

/**
 * Retention rules as a maintenance pass. Repository by repository (one in memory at a time), the
 * first rule naming it plans what goes (rules.ts); just before the deletions, the repository's tags
 * are read again, and if any moved or appeared since (a push), nothing is deleted there this time.
 * The sweep then deletes tags before manifest links; at the end, one mark of every repository
 * frees the bytes only deleted manifests used (what is younger than `graceMs` stays).
 */
export async function applyRetentionRules(inventory: Inventory, opts: RulesOptions): Promise<RulesReport> {
  const now = opts.now ?? Date.now();
  const { dryRun = false, signal } = opts;
  const report: RulesReport = { repositories: 0, skipped: 0, tagsDeleted: 0, manifestsDeleted: 0, blobsDeleted: 0, bytesFreed: 0, decisions: [] };
  const rules = opts.rules.map((rule, i) => ({ rule, name: `retention.rules[${i}]`, covers: repositoryMatcher(rule.repositories) }));
  const candidates = new Set<string>();
  /** Manifests gone (or, in a dry run, that would be): they keep no bytes in the final mark. */
  const goneNeeds = new Map<string, readonly string[]>();

  for await (const name of inventory.repositories()) {
    signal?.throwIfAborted();
    if (opts.skip?.(name)) continue;
    const chosen = rules.find((r) => r.covers(name));
    if (!chosen) continue;
    report.repositories++;
    const { state, needs } = await readRepository(inventory, opts.pulls, name);
    const plan = planRepository(state, chosen.rule, chosen.name, { now, immutable: opts.immutable });
    const deletedTags = plan.tags.filter((d) => d.delete);
    if (opts.explain) report.decisions.push(...plan.tags.filter((d) => !d.delete));
    if (deletedTags.length === 0 && plan.manifests.length === 0) continue;
    if (await movedSince(inventory, name, state.tags)) {
      report.skipped++;
      continue;
    }
    const expired: Expired = { ...nothingExpired(), tags: deletedTags.map((d) => ({ name, tag: d.tag! })) };
    for (const m of plan.manifests) {
      const digest = parseDigest(m.digest);
      expired.manifests.push({ name, record: { digest, subject: m.subject === undefined ? undefined : parseDigest(m.subject) } });
      goneNeeds.set(manifestKey(name, digest), []);
      for (const d of needs.get(m.digest) ?? [m.digest]) candidates.add(d);
    }
    for (const d of [...deletedTags, ...plan.manifests]) {
      report.decisions.push(d);
      opts.onDecision?.(d);
    }
    const swept = await sweep(inventory, expired, undefined, { keepAfter: now, dryRun, signal });
    report.tagsDeleted += swept.tagsDeleted;
    report.manifestsDeleted += swept.manifestsDeleted;
    if (!dryRun) await forgetGone(opts.pulls, name, state.tags, plan);
  }

  if (candidates.size > 0) {
    const swept = await sweep(
      inventory,
      nothingExpired(),
      { repositories: () => true, candidates: [...candidates].map(parseDigest), known: goneNeeds },
      { keepAfter: now - opts.graceMs, dryRun, signal },
    );
    report.blobsDeleted = swept.blobsDeleted;
    report.bytesFreed = swept.bytesFreed;
  }
  return report;
}

/** A repository as the planner reads it, and what each manifest keeps on storage (its bytes, config, layers). */
async function readRepository(inventory: Inventory, pulls: RulesOptions['pulls'], name: string): Promise<{ state: RepositoryState; needs: Map<string, string[]> }> {
  const manifests = new Map<string, HeldManifest>();
  const needs = new Map<string, string[]>();
  await forEachBounded(await inventory.manifests(name), async (digest) => {
    const record = await inventory.manifest(name, digest);
    if (!record) return;
    const key = formatDigest(digest);
    manifests.set(key, { key, linked: record.linked.getTime(), children: record.manifests.map(formatDigest), subject: record.subject === undefined ? undefined : formatDigest(record.subject) });
    needs.set(key, needsOf(record));
  });
  const tags: HeldTag[] = [];
  await forEachBounded(await inventory.tags(name), async (tag) => {
    const [target, written] = await Promise.all([inventory.tagTarget(name, tag), inventory.tagWritten(name, tag)]);
    tags.push({ tag, target: target === undefined ? undefined : formatDigest(target), pushed: written?.getTime() });
  });
  tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return { state: { name, manifests, tags, pulls: await pulls.read(name) }, needs };
}

/** Whether a tag of the repository appeared, went or moved since `tags` were read: a push or delete raced the plan. */
async function movedSince(inventory: Inventory, name: string, tags: readonly HeldTag[]): Promise<boolean> {
  const now = await inventory.tags(name);
  if (now.length !== tags.length) return true;
  const before = new Map(tags.map((t) => [t.tag, t.target]));
  let moved = false;
  await forEachBounded(now, async (tag) => {
    if (moved) return;
    if (!before.has(tag)) moved = true;
    else {
      const target = await inventory.tagTarget(name, tag);
      if ((target === undefined ? undefined : formatDigest(target)) !== before.get(tag)) moved = true;
    }
  });
  return moved;
}

/** Drops the pull times of what is gone, so the repository's record does not outgrow it. */
async function forgetGone(pulls: RulesOptions['pulls'], name: string, tags: readonly HeldTag[], plan: RepositoryPlan): Promise<void> {
  const goneTags = new Set(plan.tags.filter((d) => d.delete).map((d) => d.tag));
  const goneManifests = new Set(plan.manifests.map((m) => m.digest));
  const tagsLeft = new Set(tags.map((t) => t.tag).filter((t) => !goneTags.has(t)));
  await pulls.forget(name, { tags: (t) => tagsLeft.has(t), manifests: (d) => !goneManifests.has(d) });
}
