import { formatDigest, type Digest } from '../oci/digest.ts';

const keyOf = (name: string, digest: Digest): string => `${name}@${formatDigest(digest)}`;

/**
 * Which mirrored manifests were served since retention last looked. Retention rewrites their
 * links, so a link's modification time is its last use to within one interval, across restarts
 * and replicas.
 */
export class UsageLog {
  readonly #used = new Map<string, { name: string; digest: Digest; at: number }>();

  note(name: string, digest: Digest, at = Date.now()): void {
    this.#used.set(keyOf(name, digest), { name, digest, at });
  }

  /** Whether the manifest was served since the last drain (while a sweep runs, say). */
  has(name: string, digest: Digest): boolean {
    return this.#used.has(keyOf(name, digest));
  }

  drain(): Array<{ name: string; digest: Digest; at: number }> {
    const out = [...this.#used.values()];
    this.#used.clear();
    return out;
  }
}
