/**
 * Quotas (`quotas.limits`): the bytes the repositories under a prefix may hold, a blob or manifest
 * shared between them counted once. Checked where a push becomes content, at manifest PUT: the
 * blobs uploaded before it hold no name yet and are gc's once nothing references them (as Harbor
 * checks). A push that would pass the limit is refused with DENIED (403: nothing about the request
 * is malformed, and no other code says "not allowed"), its message giving the limit, the usage and
 * what the manifest would add.
 *
 * Usage is counted from storage the first time a prefix is needed, then kept up to date by the
 * pushes through this process; a delete here, or `quotas.recountInterval` passing (deletes by
 * `berth gc`, retention or another replica), makes the next check count again. Replicas each check
 * their own count: two racing pushes through two replicas can pass a limit by one manifest.
 */
import { formatSize } from '../config/size.ts';
import { digestBytes, formatDigest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { parseManifest } from '../oci/manifest.ts';
import { decorate } from './decorate.ts';
import type { Inventory } from './inventory.ts';
import { KeyedLock } from './keyed-lock.ts';
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

/** How many manifests are read at once while counting (the inventory bounds storage operations too). */
const countBatch = 16;

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

  constructor(limits: readonly QuotaLimit[], inventory: Inventory, opts: { recountMs: number; observe?: (usage: QuotaUsage) => void }) {
    this.#limits = limits.map((l, i) => ({ ...l, rule: `quotas.limits[${i}]` }));
    this.#inventory = inventory;
    this.#recountMs = opts.recountMs;
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

  /** The prefix's count, from storage when there is none or it is stale. */
  async counted(prefix: string): Promise<Counted> {
    const known = this.#counted.get(prefix);
    if (known && !known.stale && Date.now() - known.at < this.#recountMs) return known;
    const sizes = new Map<string, number>();
    for await (const repository of this.#inventory.repositoriesUnder(prefix)) {
      const digests = await this.#inventory.manifests(repository);
      for (let i = 0; i < digests.length; i += countBatch) {
        const records = await Promise.all(digests.slice(i, i + countBatch).map((d) => this.#inventory.manifest(repository, d)));
        for (const r of records) {
          if (!r) continue;
          if (r.size !== undefined) sizes.set(formatDigest(r.digest), r.size);
          for (const b of r.blobs) sizes.set(formatDigest(b.digest), b.size);
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
 * namespaces: their content is a cache, bounded by `mirror.retention`) pass through. Within this
 * process, checks and pushes under one prefix run one at a time, so two pushes cannot both take
 * the last room.
 */
export function withQuotas(registry: Registry, quotas: Quotas, exempt: (name: string) => boolean = () => false): Registry {
  if (!quotas.any) return registry;
  const lock = new KeyedLock();
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
          return lock.run(l.prefix, async () => {
            const c = await quotas.counted(l.prefix);
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
