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
 */
import { describeSelector, repositoryMatcher, tagMatcher } from '../config/patterns.ts';
import { digestBytes, formatDigest, sameDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { isTag } from '../oci/names.ts';
import { decorate } from './decorate.ts';
import { KeyedLock } from './keyed-lock.ts';
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

/** What the guard reads the tags with: the stored registry's, which knows which tags point at a digest. */
type TagReader = Pick<Tags, 'resolve' | 'pointingAt'>;

/**
 * The registry with `tags.immutable` enforced on the writes that could move or remove a protected
 * tag. Names `exempt` says (mirrored namespaces, whose own layer refuses writes) pass through.
 * Within this process, the check and the write of one repository's protected tags run one at a
 * time, so two pushes racing for a fresh protected tag cannot both win here.
 */
export function withImmutableTags(registry: Registry, guard: ImmutableTags, tags: TagReader, exempt: (name: string) => boolean = () => false): Registry {
  if (!guard.any) return registry;
  const lock = new KeyedLock();
  const { manifests } = registry;

  async function checkPush(name: string, digest: Digest, pushed: readonly string[]): Promise<void> {
    for (const tag of pushed) {
      const protection = guard.protecting(name, tag);
      if (!protection) continue;
      const current = await tags.resolve(name, tag);
      if (!current || sameDigest(current, digest)) continue;
      throw refusal(
        `tag ${tag} in ${name} is immutable (${protection.rule}: ${protection.text}) and points at ${formatDigest(current)}: push this manifest under a new tag`,
        { tag, current: formatDigest(current), rule: protection.rule },
      );
    }
  }

  return decorate(registry, {
    tags: {
      async delete(name, tag) {
        const protection = exempt(name) || !isTag(tag) ? undefined : guard.protecting(name, tag);
        if (!protection) return registry.tags.delete(name, tag);
        return lock.run(name, async () => {
          if (!(await tags.resolve(name, tag))) return registry.tags.delete(name, tag);
          throw refusal(`tag ${tag} in ${name} is immutable (${protection.rule}: ${protection.text}) and cannot be deleted`, { tag, rule: protection.rule });
        });
      },
    },
    manifests: {
      async put(name, ref: Reference, bytes, contentType, extraTags) {
        // Invalid tags are the registry's to refuse; only a tag that could exist can be protected.
        const pushed = [...(ref.tag === undefined ? [] : [ref.tag]), ...extraTags].filter((t) => isTag(t) && guard.protecting(name, t) !== undefined);
        if (exempt(name) || pushed.length === 0) return manifests.put(name, ref, bytes, contentType, extraTags);
        const digest = digestBytes(bytes, ref.digest?.algorithm);
        return lock.run(name, async () => {
          await checkPush(name, digest, pushed);
          return manifests.put(name, ref, bytes, contentType, extraTags);
        });
      },
      async delete(name, digest) {
        if (exempt(name) || !guard.covers(name)) return manifests.delete(name, digest);
        return lock.run(name, async () => {
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
