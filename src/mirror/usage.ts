import { formatDigest, type Digest } from '../oci/digest.ts';
import type { PullRecords } from '../registry/usage.ts';

const keyOf = (name: string, digest: Digest): string => `${name}@${formatDigest(digest)}`;

/**
 * Which mirrored manifests were served since retention last looked, and when each was last
 * served: every use is also noted in the registry's pull records, which keep a manifest's last
 * use to within one flush interval, across restarts and replicas.
 */
export class UsageLog {
  readonly #used = new Map<string, { name: string; digest: Digest; at: number }>();
  readonly #pulls: PullRecords | undefined;

  constructor(pulls?: PullRecords) {
    this.#pulls = pulls;
  }

  note(name: string, digest: Digest, tag?: string, at = Date.now()): void {
    this.#used.set(keyOf(name, digest), { name, digest, at });
    this.#pulls?.note(name, digest, tag, at);
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

  /** When each manifest of the repository was last served, as recorded (`sha256:...` → ms). */
  async lastUsed(name: string): Promise<ReadonlyMap<string, number>> {
    return this.#pulls ? (await this.#pulls.read(name)).manifests : new Map();
  }
}
