import { algorithms, formatDigest, isAlgorithm, type Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { Driver } from '../storage/driver.ts';
import { layout } from './layout.ts';
import { readManifestOnDisk } from './manifests.ts';
import { parseReferrerEntry } from './referrers.ts';
import { findRepositories } from './repositories.ts';

export interface GcOptions {
  /** Report what would go, change nothing. */
  dryRun?: boolean;
  /** Also delete manifests no tag reaches (directly, through an index, or as a referrer of one). */
  deleteUntagged?: boolean;
  /**
   * Anything written more recently than this is kept whatever the marks say: it may belong to a
   * push still under way (blobs come before the manifest that references them).
   */
  graceMs: number;
  onProgress?: (phase: string, done: number, total: number) => void;
  now?: number;
}

export interface GcReport {
  repositories: number;
  manifestsDeleted: number;
  blobsKept: number;
  blobsDeleted: number;
  bytesFreed: number;
  linksDeleted: number;
}

const text = new TextDecoder();

/** Digests named by the keys under `prefix/<algorithm>/`, for every algorithm berth knows. */
export async function digestsUnder(driver: Driver, prefix: string): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algorithm of Object.keys(algorithms)) {
    if (!isAlgorithm(algorithm)) continue;
    for (const hex of await driver.list(`${prefix}/${algorithm}`)) out.push({ algorithm, hex });
  }
  return out;
}

/**
 * Mark and sweep. Marks every blob a kept manifest references (and the manifests' own bytes),
 * plus anything younger than the grace period; then deletes unmarked blobs and the repository
 * links left pointing at nothing. Safe beside a serving registry: what a push in progress has
 * written is young, and a manifest's blobs exist before the manifest does.
 */
export async function collectGarbage(driver: Driver, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const young = (modified: Date | undefined): boolean => modified !== undefined && now - modified.getTime() < opts.graceMs;
  const report: GcReport = { repositories: 0, manifestsDeleted: 0, blobsKept: 0, blobsDeleted: 0, bytesFreed: 0, linksDeleted: 0 };
  const marked = new Set<string>();
  const repos = await findRepositories(driver, (entries) => entries.some((e) => e.startsWith('_')));
  report.repositories = repos.length;

  for (const [i, name] of repos.entries()) {
    opts.onProgress?.('mark', i, repos.length);
    const manifests = await digestsUnder(driver, layout.manifestLinks(name));
    const parsed = new Map<string, { digest: Digest; bytes?: Uint8Array; mediaType?: string; modified?: Date }>();
    for (const digest of manifests) {
      const stored = await readManifestOnDisk(driver, name, digest);
      if (stored) parsed.set(formatDigest(digest), { digest, ...stored });
    }
    const kept = opts.deleteUntagged ? await reachable(driver, name, parsed, young) : new Set(parsed.keys());

    for (const [key, m] of parsed) {
      if (!kept.has(key)) {
        report.manifestsDeleted++;
        if (!opts.dryRun) await deleteManifestLink(driver, name, m.digest, m.bytes, m.mediaType);
        continue;
      }
      marked.add(key);
      if (!m.bytes) continue;
      try {
        for (const blob of parseManifest(m.bytes, m.mediaType).blobs) marked.add(formatDigest(blob.digest));
      } catch {
        // Unparsable bytes reference nothing; the manifest itself stays marked.
      }
    }
    // A blob linked recently may be part of a push whose manifest has not arrived yet.
    for (const digest of await digestsUnder(driver, `${layout.repository(name)}/_blobs`)) {
      if (young((await driver.stat(layout.blobLink(name, digest)))?.modified)) marked.add(formatDigest(digest));
    }
  }

  const swept = new Set<string>();
  for (const algorithm of Object.keys(algorithms)) {
    if (!isAlgorithm(algorithm)) continue;
    const shards = await driver.list(`blobs/${algorithm}`);
    for (const [i, shard] of shards.entries()) {
      opts.onProgress?.(`sweep ${algorithm}`, i, shards.length);
      for (const hex of await driver.list(`blobs/${algorithm}/${shard}`)) {
        const digest: Digest = { algorithm, hex };
        if (marked.has(formatDigest(digest))) {
          report.blobsKept++;
          continue;
        }
        const info = await driver.stat(layout.blob(digest));
        if (!info || young(info.modified)) {
          report.blobsKept++;
          continue;
        }
        report.blobsDeleted++;
        report.bytesFreed += info.size;
        swept.add(formatDigest(digest));
        if (!opts.dryRun) await driver.delete(layout.blob(digest));
      }
    }
  }

  for (const name of repos) {
    for (const digest of await digestsUnder(driver, `${layout.repository(name)}/_blobs`)) {
      if (!swept.has(formatDigest(digest))) continue;
      report.linksDeleted++;
      if (!opts.dryRun) await driver.delete(layout.blobLink(name, digest));
    }
  }
  opts.onProgress?.('done', 1, 1);
  return report;
}

/** Manifests a tag reaches, directly, as a child of a reached index, or as a referrer of a reached manifest. */
async function reachable(
  driver: Driver,
  name: string,
  manifests: Map<string, { digest: Digest; bytes?: Uint8Array; mediaType?: string; modified?: Date }>,
  young: (d: Date | undefined) => boolean,
): Promise<Set<string>> {
  const kept = new Set<string>();
  for (const tag of await driver.list(layout.tags(name))) {
    const raw = await driver.get(layout.tag(name, tag));
    if (raw) kept.add(text.decode(raw).trim());
  }
  for (const [key, m] of manifests) if (young(m.modified)) kept.add(key);
  const queue = [...kept];
  while (queue.length > 0) {
    const key = queue.pop()!;
    const m = manifests.get(key);
    const next: string[] = [];
    if (m?.bytes) {
      try {
        next.push(...parseManifest(m.bytes, m.mediaType).manifests.map((c) => formatDigest(c.digest)));
      } catch {
        // nothing reachable through unparsable bytes
      }
      for (const entry of await driver.list(layout.referrers(name, m.digest))) {
        const d = parseReferrerEntry(entry);
        if (d) next.push(formatDigest(d));
      }
    }
    for (const n of next) {
      if (!kept.has(n)) {
        kept.add(n);
        queue.push(n);
      }
    }
  }
  return kept;
}

async function deleteManifestLink(driver: Driver, name: string, digest: Digest, bytes: Uint8Array | undefined, mediaType: string | undefined): Promise<void> {
  if (bytes) {
    try {
      const subject = parseManifest(bytes, mediaType).subject;
      if (subject) await driver.delete(layout.referrer(name, subject.parsed, digest));
    } catch {
      // no subject to unlink
    }
  }
  await driver.delete(layout.manifestLink(name, digest));
}

/** Upload sessions started longer ago than `maxAgeMs`; returns how many were removed. */
export async function purgeUploads(driver: Driver, maxAgeMs: number, now = Date.now()): Promise<number> {
  let purged = 0;
  for (const id of await driver.list(layout.uploads)) {
    const raw = await driver.get(layout.uploadInfo(id));
    let started = Number.NaN;
    if (raw) {
      try {
        started = Date.parse((JSON.parse(text.decode(raw)) as { startedAt?: string }).startedAt ?? '');
      } catch {
        // unreadable: judged by the object's age below
      }
    }
    // Without a readable start, when its info (else its data) was written; with neither it is being created.
    if (Number.isNaN(started)) {
      const info = await driver.stat(layout.uploadInfo(id));
      started = (info ?? (await driver.stat(layout.uploadData(id))))?.modified.getTime() ?? now;
    }
    if (now - started > maxAgeMs) {
      await driver.deletePrefix(layout.upload(id));
      purged++;
    }
  }
  return purged;
}
