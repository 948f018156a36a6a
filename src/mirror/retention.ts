import { algorithms, isAlgorithm, type Digest } from '../oci/digest.ts';
import { layout } from '../registry/layout.ts';
import { findRepositories } from '../registry/repositories.ts';
import type { Tags } from '../registry/tags.ts';
import type { Driver } from '../storage/driver.ts';
import type { Router } from './router.ts';

export interface RetentionReport {
  touched: number;
  manifestsExpired: number;
  tagsExpired: number;
}

/**
 * Which mirrored manifests were served since the last sweep. The sweep rewrites their links, so a
 * link's modification time is its last use to within one interval, across restarts and replicas.
 */
export class UsageLog {
  readonly #used = new Map<string, { name: string; digest: Digest }>();

  note(name: string, digest: Digest): void {
    this.#used.set(`${name}@${digest.algorithm}:${digest.hex}`, { name, digest });
  }

  drain(): Array<{ name: string; digest: Digest }> {
    const out = [...this.#used.values()];
    this.#used.clear();
    return out;
  }
}

/**
 * Expires mirrored manifests unused for `maxAgeMs`: their links and the tags pointing at them go.
 * Bytes are left to garbage collection, whose mark phase keeps every blob a remaining manifest
 * references, so eviction never takes a layer from an image that stays. What expires is fetched
 * again from the upstream the next time a client asks.
 */
export async function sweepMirrored(driver: Driver, tags: Tags, router: Router, usage: UsageLog, maxAgeMs: number, now = Date.now()): Promise<RetentionReport> {
  const report: RetentionReport = { touched: 0, manifestsExpired: 0, tagsExpired: 0 };
  /** Used since the last sweep: fresh whatever the clock says. */
  const touched = new Set<string>();
  for (const { name, digest } of usage.drain()) {
    const link = await driver.get(layout.manifestLink(name, digest));
    if (!link) continue;
    await driver.put(layout.manifestLink(name, digest), link);
    touched.add(`${name}@${digest.algorithm}:${digest.hex}`);
    report.touched++;
  }
  const prefixes = router.upstreams.map((u) => `${u.prefix}/`);
  const repos = (await findRepositories(driver, (e) => e.includes('_manifests'))).filter((n) => prefixes.some((p) => n.startsWith(p)));
  for (const name of repos) {
    const expired = new Set<string>();
    for (const algorithm of Object.keys(algorithms)) {
      if (!isAlgorithm(algorithm)) continue;
      for (const hex of await driver.list(`${layout.manifestLinks(name)}/${algorithm}`)) {
        if (touched.has(`${name}@${algorithm}:${hex}`)) continue;
        const info = await driver.stat(layout.manifestLink(name, { algorithm, hex }));
        if (info && now - info.modified.getTime() > maxAgeMs) expired.add(`${algorithm}:${hex}`);
      }
    }
    if (expired.size === 0) continue;
    // Tags first: a reader must never find a tag whose manifest link is gone.
    for (const tag of await tags.all(name)) {
      const target = await tags.resolve(name, tag);
      if (target && expired.has(`${target.algorithm}:${target.hex}`) && (await tags.delete(name, tag))) report.tagsExpired++;
    }
    for (const key of expired) {
      const [algorithm, hex] = key.split(':') as [Digest['algorithm'], string];
      await driver.delete(layout.manifestLink(name, { algorithm, hex }));
      report.manifestsExpired++;
    }
  }
  return report;
}
