/**
 * Quotas (`quotas.limits`): the bytes the repositories under a prefix may hold, a blob or manifest
 * shared between them counted once. Checked where a push becomes content, at manifest PUT: the
 * blobs uploaded before it hold no name yet and are gc's once nothing references them (as Harbor
 * checks). A push that would pass the limit is refused with DENIED (403: nothing about the request
 * is malformed, and no other code says "not allowed"), its message giving the limit, the usage and
 * what the manifest would add.
 *
 * How usage is known depends on who else writes:
 * - this process alone (local disk): counted from storage the first time a prefix is needed, then
 *   kept up to date by the pushes through this process; a delete here, or `quotas.recountInterval`
 *   passing (deletes by `berth gc` or `berth retention` run beside the server), makes the next
 *   check count again;
 * - replicas on one bucket (S3): every check reads afresh which manifests the prefix's
 *   repositories link (one listing per repository and algorithm, plus the walk of the names under
 *   the prefix), because that is the state other replicas change; what each manifest references
 *   is read once per process and kept by digest (a manifest's bytes never change under its
 *   digest), so a check costs listings, not manifest reads. A push through one replica is thus
 *   counted by the next check on any other.
 * Checks and pushes under one prefix take turns: within a process always, and across the fleet
 * with `coordination.redis` (FleetLock), which makes the limit exact everywhere. Without Redis (or
 * while it cannot be asked), pushes racing through different replicas can each pass their check
 * before either is stored: the limit can then be passed by at most one manifest per replica
 * pushing under the prefix at that moment, and the next check on any replica sees it all.
 */
import { LRUCache } from 'lru-cache';
import { formatSize } from '../config/size.ts';
import { digestBytes, formatDigest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { parseManifest } from '../oci/manifest.ts';
import { decorate } from './decorate.ts';
import type { Inventory } from './inventory.ts';
import type { FleetLock } from './fleet-lock.ts';
import type { Registry } from './registry.ts';
import type { QuotaLimit } from './schema.ts';

/** One limit and what its repositories hold, as metrics and the UI read it. */
export interface QuotaUsage {
  /** `quotas.limits[0]` */
  rule: string;
  prefix: string;
  limitBytes: number;
  /** Undefined until first counted. */
  usedBytes: number | undefined;
  countedAt: Date | undefined;
}

interface Counted {
  /** Every blob and manifest the prefix's repositories reference, by digest, with its size. */
  sizes: Map<string, number>;
  bytes: number;
  at: number;
  stale: boolean;
}

/** What a manifest adds to its prefix's usage: its own bytes and what it references. Fixed by its digest. */
interface Summary {
  size: number | undefined;
  blobs: Array<{ digest: string; size: number }>;
}

/** How many manifests are read at once while counting (the inventory bounds storage operations too). */
const countBatch = 16;

/** Summaries kept, weighed by the blobs they list: some 200 000 descriptors, tens of MB at most. */
const summaryBudget = 200_000;

const readable = (n: number): string => {
  const s = formatSize(n);
  return typeof s === 'number' ? `${s} bytes` : s;
};

const under = (prefix: string, name: string): boolean => name === prefix || name.startsWith(`${prefix}/`);

export class Quotas {
  readonly #limits: Array<QuotaLimit & { rule: string }>;
  readonly #inventory: Inventory;
  readonly #recountMs: number;
  readonly #counted = new Map<string, Counted>();
  readonly #observe: (usage: QuotaUsage) => void;
  readonly #shared: boolean;
  readonly #summaries = new LRUCache<string, Summary>({ maxSize: summaryBudget, sizeCalculation: (s) => 1 + s.blobs.length });
  readonly lock: FleetLock;

  /**
   * `shared`: other processes push to the same storage (replicas on S3), so every check lists
   * afresh. `lock` gives checks and pushes under one prefix their turns.
   */
  constructor(
    limits: readonly QuotaLimit[],
    inventory: Inventory,
    opts: { recountMs: number; shared: boolean; lock: FleetLock; observe?: (usage: QuotaUsage) => void },
  ) {
    this.#limits = limits.map((l, i) => ({ ...l, rule: `quotas.limits[${i}]` }));
    this.#inventory = inventory;
    this.#recountMs = opts.recountMs;
    this.#shared = opts.shared;
    this.lock = opts.lock;
    this.#observe = opts.observe ?? (() => undefined);
    for (const l of this.#limits) this.#observe(this.#usageOf(l, undefined));
  }

  get any(): boolean {
    return this.#limits.length > 0;
  }

  /** The limits whose prefix holds the repository. */
  limitsOf(name: string): Array<QuotaLimit & { rule: string }> {
    return this.#limits.filter((l) => under(l.prefix, name));
  }

  /** Every limit with its usage, counting those not counted yet (or stale) when `count` says so. */
  async usage(count = false): Promise<QuotaUsage[]> {
    const out: QuotaUsage[] = [];
    for (const l of this.#limits) {
      const c = count ? await this.counted(l.prefix) : this.#counted.get(l.prefix);
      out.push(this.#usageOf(l, c));
    }
    return out;
  }

  /**
   * The prefix's count, from storage when there is none or it is stale; with `check` and storage
   * shared with other replicas, from storage every time (what they pushed since).
   */
  async counted(prefix: string, opts: { check?: boolean } = {}): Promise<Counted> {
    const known = this.#counted.get(prefix);
    const fresh = opts.check === true && this.#shared;
    if (known && !fresh && !known.stale && Date.now() - known.at < this.#recountMs) return known;
    const sizes = new Map<string, number>();
    for await (const repository of this.#inventory.repositoriesUnder(prefix)) {
      const digests = await this.#inventory.manifests(repository);
      for (let i = 0; i < digests.length; i += countBatch) {
        const summaries = await Promise.all(digests.slice(i, i + countBatch).map((d) => this.#summary(repository, d)));
        for (const [digest, summary] of summaries) {
          if (!summary) continue;
          if (summary.size !== undefined) sizes.set(digest, summary.size);
          for (const b of summary.blobs) sizes.set(b.digest, b.size);
        }
      }
    }
    let bytes = 0;
    for (const n of sizes.values()) bytes += n;
    const c: Counted = { sizes, bytes, at: Date.now(), stale: false };
    this.#counted.set(prefix, c);
    for (const l of this.#limits) if (l.prefix === prefix) this.#observe(this.#usageOf(l, c));
    return c;
  }

  /** What a linked manifest adds, read once per digest; none when its link went meanwhile. */
  async #summary(repository: string, digest: Parameters<typeof formatDigest>[0]): Promise<[string, Summary | undefined]> {
    const key = formatDigest(digest);
    const known = this.#summaries.get(key);
    if (known) return [key, known];
    const r = await this.#inventory.manifest(repository, digest);
    if (!r) return [key, undefined];
    const summary: Summary = { size: r.size, blobs: r.blobs.map((b) => ({ digest: formatDigest(b.digest), size: b.size })) };
    // Bytes gone (a collection) are no summary to keep: they may be pushed again.
    if (r.size !== undefined) this.#summaries.set(key, summary);
    return [key, summary];
  }

  /** After a delete in these repositories: count again before the next check. */
  changed(name: string): void {
    for (const l of this.limitsOf(name)) {
      const c = this.#counted.get(l.prefix);
      if (c) c.stale = true;
    }
  }

  /** Adds what a stored manifest references to the counts of its prefixes. */
  added(name: string, items: ReadonlyMap<string, number>): void {
    for (const l of this.limitsOf(name)) {
      const c = this.#counted.get(l.prefix);
      if (!c) continue;
      for (const [digest, size] of items) {
        if (c.sizes.has(digest)) continue;
        c.sizes.set(digest, size);
        c.bytes += size;
      }
      this.#observe(this.#usageOf(l, c));
    }
  }

  #usageOf(l: QuotaLimit & { rule: string }, c: Counted | undefined): QuotaUsage {
    return { rule: l.rule, prefix: l.prefix, limitBytes: l.maxSize, usedBytes: c?.bytes, countedAt: c ? new Date(c.at) : undefined };
  }
}

/** What a manifest's push stores, by digest: its own bytes and the blobs it references. */
function referenced(bytes: Uint8Array, contentType: string | undefined, algorithm: Parameters<typeof digestBytes>[1]): Map<string, number> | undefined {
  let info;
  try {
    info = parseManifest(bytes, contentType);
  } catch {
    // The registry refuses it with its own error.
    return undefined;
  }
  const items = new Map<string, number>([[formatDigest(digestBytes(bytes, algorithm)), bytes.byteLength]]);
  for (const b of info.blobs) items.set(formatDigest(b.digest), b.size);
  return items;
}

/**
 * The registry with `quotas.limits` enforced at manifest PUT. Names `exempt` says (mirrored
 * namespaces: their content is a cache, bounded by `mirror.retention`) pass through. Checks and
 * pushes under one prefix take turns (`quotas.lock`: this process, or the fleet with Redis), so
 * two pushes holding turns cannot both take the last room.
 */
export function withQuotas(registry: Registry, quotas: Quotas, exempt: (name: string) => boolean = () => false): Registry {
  if (!quotas.any) return registry;
  const { lock } = quotas;
  const { manifests } = registry;
  return decorate(registry, {
    manifests: {
      async put(name, ref, bytes, contentType, extraTags) {
        const limits = exempt(name) ? [] : quotas.limitsOf(name);
        const items = limits.length > 0 ? referenced(bytes, contentType, ref.digest?.algorithm) : undefined;
        if (!items) return manifests.put(name, ref, bytes, contentType, extraTags);
        const run = async (i: number): Promise<Awaited<ReturnType<typeof manifests.put>>> => {
          const l = limits[i];
          if (!l) {
            const pushed = await manifests.put(name, ref, bytes, contentType, extraTags);
            quotas.added(name, items);
            return pushed;
          }
          // Limits in their configured order, each turn taken before the next: no two pushes wait on each other in a circle.
          return lock.run(`quota:${l.prefix}`, async () => {
            const c = await quotas.counted(l.prefix, { check: true });
            let adds = 0;
            for (const [digest, size] of items) if (!c.sizes.has(digest)) adds += size;
            if (adds > 0 && c.bytes + adds > l.maxSize) {
              throw new OciError(
                'DENIED',
                `quota exceeded: repositories under ${l.prefix} may hold ${readable(l.maxSize)} (${l.rule}); they hold ${readable(c.bytes)} and this manifest would add ${readable(adds)}`,
                { status: 403, detail: { rule: l.rule, prefix: l.prefix, limit: l.maxSize, used: c.bytes, adds } },
              );
            }
            return run(i + 1);
          });
        };
        return run(0);
      },
      async delete(name, digest) {
        await manifests.delete(name, digest);
        quotas.changed(name);
      },
    },
  });
}
