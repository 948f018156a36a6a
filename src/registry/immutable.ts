/**
 * Immutable tags (`tags.immutable`): once a protected tag points at a manifest, it stays there.
 * Pushing other content under it, deleting it, or deleting the manifest it points at is refused;
 * pushing the same manifest again is not a move and goes through.
 *
 * The refusal is the spec's `DENIED` with 409 Conflict. DENIED because the distribution spec has no
 * code of its own for this (distribution has none either) and DENIED is the one that says "not
 * allowed" rather than "malformed" (MANIFEST_INVALID would send a user looking for a fault in a
 * manifest that is fine). 409 rather than 403 because the refusal comes from the tag's current
 * state, not from who asks: another login would not help, a new tag would; Artifact Registry
 * answers 409 too (Harbor 412, ECR its own exception). docker, podman and skopeo print the
 * message (`denied: tag v1.2.0 in team/app is immutable ...`), which names the rule.
 *
 * Across replicas on one bucket (or processes on one disk), without any coordinator:
 * - moving a protected tag that exists is refused by every replica, which reads the tag from
 *   storage (the cache trusts a tag only as far as it is exact: src/cache/driver.ts);
 * - a protected tag's first write is a create-only write (`Driver.create`: S3's
 *   `If-None-Match: *`, a hard link on disk), so of pushes racing to create it with different
 *   manifests exactly one wins and the others are refused as a move would be; the losers'
 *   manifests stay stored untagged, as a push by digest would leave them;
 * - deleting a protected tag that does not exist answers "unknown" without deleting anything, so it
 *   cannot remove one created meanwhile.
 * What a coordinator is needed for: a DELETE of a manifest by digest through one replica racing the
 * first push of a protected tag to that same manifest through another can remove the new tag with
 * the manifest (the delete saw no protected tag pointing at it). With `coordination.redis`, every
 * check and write of one repository's protected tags and its manifest deletes takes a fleet-wide
 * turn (FleetLock), which closes that window; while Redis cannot be asked, it is open again.
 * `cache.ttl` does not weaken this: a protected tag holds one digest for good, and the cache never
 * keeps an absent tag, so a cached read is the stored one.
 */
import { describeSelector, repositoryMatcher, tagMatcher } from '../config/patterns.ts';
import { digestBytes, formatDigest, sameDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { StorageError } from '../storage/errors.ts';
import { isTag, validateTag } from '../oci/names.ts';
import { decorate } from './decorate.ts';
import type { FleetLock } from './fleet-lock.ts';
import type { Reference } from './manifests.ts';
import type { Registry } from './registry.ts';
import type { ImmutableRule } from './schema.ts';
import type { Tags } from './tags.ts';

/** The rule that protects a tag, as its refusals and retention's reports name it. */
export interface Protection {
  /** `tags.immutable[0]` */
  rule: string;
  /** `repositories team/**; patterns v.*` */
  text: string;
}

/** Which tags of which repositories `tags.immutable` protects. */
export class ImmutableTags {
  readonly #rules: Array<{ repositories: (name: string) => boolean; tags: (tag: string) => boolean; protection: Protection }>;

  constructor(rules: readonly ImmutableRule[]) {
    this.#rules = rules.map((r, i) => ({
      repositories: repositoryMatcher(r.repositories),
      tags: tagMatcher(r),
      protection: { rule: `tags.immutable[${i}]`, text: `repositories ${r.repositories.join(', ')}; ${describeSelector(r)}` },
    }));
  }

  get any(): boolean {
    return this.#rules.length > 0;
  }

  /** Whether any rule covers the repository (some of its tags may be protected). */
  covers(name: string): boolean {
    return this.#rules.some((r) => r.repositories(name));
  }

  /** The first rule protecting the tag, or undefined. */
  protecting(name: string, tag: string): Protection | undefined {
    return this.#rules.find((r) => r.repositories(name) && r.tags(tag))?.protection;
  }
}

const refusal = (message: string, detail: Record<string, string>): OciError => new OciError('DENIED', message, { status: 409, detail });

const moveRefused = (name: string, tag: string, current: Digest, protection: Protection): OciError =>
  refusal(
    `tag ${tag} in ${name} is immutable (${protection.rule}: ${protection.text}) and points at ${formatDigest(current)}: push this manifest under a new tag`,
    { tag, current: formatDigest(current), rule: protection.rule },
  );

/** What the guard reads and writes the tags with: the stored registry's, which knows which tags point at a digest. */
type TagStore = Pick<Tags, 'resolve' | 'pointingAt' | 'set' | 'create'>;

/**
 * The registry with `tags.immutable` enforced on the writes that could move or remove a protected
 * tag. Names `exempt` says (mirrored namespaces, whose own layer refuses writes) pass through.
 * A push naming a protected tag stores its manifest untagged first and then writes the tags
 * itself: protected ones that do not exist yet create-only, the rest as the registry would.
 */
export function withImmutableTags(registry: Registry, guard: ImmutableTags, tags: TagStore, lock: FleetLock, exempt: (name: string) => boolean = () => false): Registry {
  if (!guard.any) return registry;
  const { manifests } = registry;
  const turn = <T>(name: string, fn: () => Promise<T>): Promise<T> => lock.run(`immutable:${name}`, fn);

  /** The protected tags the push names that exist already (pointing at this manifest: else refused). */
  async function existing(name: string, digest: Digest, pushed: ReadonlyMap<string, Protection>): Promise<Set<string>> {
    const found = new Set<string>();
    for (const [tag, protection] of pushed) {
      const current = await tags.resolve(name, tag);
      if (!current) continue;
      if (!sameDigest(current, digest)) throw moveRefused(name, tag, current, protection);
      found.add(tag);
    }
    return found;
  }

  /** A protected tag's first write: created, or found pointing at this manifest, or refused as a move. */
  async function create(name: string, tag: string, digest: Digest, protection: Protection): Promise<void> {
    // Twice: the tag another push created may be gone again by the time it is read (its manifest deleted).
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await tags.create(name, tag, digest)) return;
      const current = await tags.resolve(name, tag);
      if (current && !sameDigest(current, digest)) throw moveRefused(name, tag, current, protection);
      if (current) return;
    }
    throw new StorageError('unavailable', `create ${name}:${tag}: the tag was taken and gone again twice`);
  }

  return decorate(registry, {
    tags: {
      async delete(name, tag) {
        const protection = exempt(name) || !isTag(tag) ? undefined : guard.protecting(name, tag);
        if (!protection) return registry.tags.delete(name, tag);
        return turn(name, async () => {
          // Absent: unknown, and nothing is deleted, so a tag created meanwhile stays.
          if (!(await tags.resolve(name, tag))) return false;
          throw refusal(`tag ${tag} in ${name} is immutable (${protection.rule}: ${protection.text}) and cannot be deleted`, { tag, rule: protection.rule });
        });
      },
    },
    manifests: {
      async put(name, ref: Reference, bytes, contentType, extraTags) {
        if (exempt(name)) return manifests.put(name, ref, bytes, contentType, extraTags);
        const named = [...new Set([...(ref.tag === undefined ? [] : [ref.tag]), ...extraTags])];
        // Invalid tags are the registry's to refuse; only a tag that could exist can be protected.
        const pushed = new Map<string, Protection>();
        for (const tag of named) {
          const protection = isTag(tag) ? guard.protecting(name, tag) : undefined;
          if (protection) pushed.set(tag, protection);
        }
        if (pushed.size === 0) return manifests.put(name, ref, bytes, contentType, extraTags);
        const others = named.filter((t) => !pushed.has(t)).map(validateTag);
        const digest = digestBytes(bytes, ref.digest?.algorithm);
        return turn(name, async () => {
          const found = await existing(name, digest, pushed);
          // Untagged first: a tag is written only once its manifest is there (Manifests.put).
          const stored = await manifests.put(name, { digest: ref.digest ?? digest }, bytes, contentType, []);
          for (const [tag, protection] of pushed) {
            // Same digest again: rewritten, as any push is (its push time), never moved.
            if (found.has(tag)) await tags.set(name, tag, digest);
            else await create(name, tag, digest, protection);
          }
          for (const tag of others) await tags.set(name, tag, digest);
          return { ...stored, tags: named };
        });
      },
      async delete(name, digest) {
        if (exempt(name) || !guard.covers(name)) return manifests.delete(name, digest);
        return turn(name, async () => {
          for (const tag of await tags.pointingAt(name, digest)) {
            const protection = guard.protecting(name, tag);
            if (!protection) continue;
            throw refusal(
              `manifest ${formatDigest(digest)} in ${name} is what immutable tag ${tag} points at (${protection.rule}: ${protection.text}) and cannot be deleted`,
              { tag, rule: protection.rule },
            );
          }
          return manifests.delete(name, digest);
        });
      },
    },
  });
}
