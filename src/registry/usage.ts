/**
 * When tags and manifests were last pulled, recorded cheaply: a pull only notes the time in
 * memory; `flush` writes, per repository pulled since the last flush, one small object holding the
 * repository's pull times (read, merged keeping the later time of each entry, written back). So a
 * thousand pulls of one repository cost one read and one write per flush interval, on disk and on
 * S3 alike, and the times survive restarts (a server flushes as it stops) and are shared by
 * replicas. Two replicas flushing one repository at the same instant may lose one's entries of
 * that interval: the next pull records them again, and a time is only ever a little late.
 */
import { formatDigest, type Digest } from '../oci/digest.ts';
import type { Driver } from '../storage/driver.ts';
import { forEachBounded } from './bounded.ts';
import { decorate } from './decorate.ts';
import { layout } from './layout.ts';
import type { Registry } from './registry.ts';

/** When a repository's tags and manifests (by digest, `sha256:...`) were last pulled, ms since the epoch. */
export interface PullTimes {
  tags: Map<string, number>;
  manifests: Map<string, number>;
}

const noTimes = (): PullTimes => ({ tags: new Map(), manifests: new Map() });

function keepLater(into: Map<string, number>, key: string, at: number): void {
  const known = into.get(key);
  if (known === undefined || known < at) into.set(key, at);
}

function merge(into: PullTimes, from: PullTimes): PullTimes {
  for (const [tag, at] of from.tags) keepLater(into.tags, tag, at);
  for (const [digest, at] of from.manifests) keepLater(into.manifests, digest, at);
  return into;
}

const text = new TextDecoder();

/** The stored object: `{"tags":{"v1":1712...},"manifests":{"sha256:...":1712...}}`; anything unreadable is no times. */
function parseTimes(raw: Uint8Array | undefined): PullTimes {
  const times = noTimes();
  if (!raw) return times;
  let doc: unknown;
  try {
    doc = JSON.parse(text.decode(raw));
  } catch {
    return times;
  }
  const entries = (v: unknown): Array<[string, number]> =>
    typeof v === 'object' && v !== null ? Object.entries(v).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])) : [];
  const record = doc as { tags?: unknown; manifests?: unknown };
  for (const [k, at] of entries(record.tags)) times.tags.set(k, at);
  for (const [k, at] of entries(record.manifests)) times.manifests.set(k, at);
  return times;
}

const serialise = (t: PullTimes): string => JSON.stringify({ tags: Object.fromEntries(t.tags), manifests: Object.fromEntries(t.manifests) });

/** Pull times: noted in memory as pulls happen, written per repository by `flush`. */
export class PullRecords {
  readonly #driver: Driver;
  /** Noted since the last flush, per repository: bounded by the tags and manifests that exist. */
  #pending = new Map<string, PullTimes>();

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  /** A pull of `digest` (through `tag`, when it was asked for by tag). Memory only. */
  note(name: string, digest: Digest, tag?: string, at = Date.now()): void {
    let times = this.#pending.get(name);
    if (!times) this.#pending.set(name, (times = noTimes()));
    keepLater(times.manifests, formatDigest(digest), at);
    if (tag !== undefined) keepLater(times.tags, tag, at);
  }

  /** Writes what was noted since the last flush, one object per repository; returns how many were written. */
  async flush(signal?: AbortSignal): Promise<number> {
    const taken = this.#pending;
    this.#pending = new Map();
    let written = 0;
    try {
      await forEachBounded([...taken], async ([name, times]) => {
        signal?.throwIfAborted();
        const stored = parseTimes(await this.#driver.get(layout.pulls(name)));
        await this.#driver.put(layout.pulls(name), serialise(merge(stored, times)));
        taken.delete(name);
        written++;
      });
    } finally {
      // What could not be written waits for the next flush.
      for (const [name, times] of taken) {
        const waiting = this.#pending.get(name);
        this.#pending.set(name, waiting ? merge(waiting, times) : times);
      }
    }
    return written;
  }

  /** The repository's pull times: stored, with what this process noted since its last flush. */
  async read(name: string): Promise<PullTimes> {
    const stored = parseTimes(await this.#driver.get(layout.pulls(name)));
    const pending = this.#pending.get(name);
    return pending ? merge(stored, pending) : stored;
  }

  /**
   * Drops the entries of tags and manifests that are gone (after retention deleted them), so the
   * object does not outgrow the repository; removes it when nothing is left.
   */
  async forget(name: string, keep: { tags: (tag: string) => boolean; manifests: (digest: string) => boolean }): Promise<void> {
    const raw = await this.#driver.get(layout.pulls(name));
    if (!raw) return;
    const times = parseTimes(raw);
    const before = times.tags.size + times.manifests.size;
    for (const tag of times.tags.keys()) if (!keep.tags(tag)) times.tags.delete(tag);
    for (const digest of times.manifests.keys()) if (!keep.manifests(digest)) times.manifests.delete(digest);
    if (times.tags.size + times.manifests.size === before) return;
    if (times.tags.size + times.manifests.size === 0) await this.#driver.delete(layout.pulls(name));
    else await this.#driver.put(layout.pulls(name), serialise(times));
  }
}

/** When a tag was last pulled: by its name, or by the digest (`sha256:...`) it points at now (containerd resolves with a HEAD and pulls by digest). */
export function lastPulled(times: PullTimes, tag: string, target: string | undefined): number | undefined {
  const byTag = times.tags.get(tag);
  const byDigest = target === undefined ? undefined : times.manifests.get(target);
  if (byTag === undefined) return byDigest;
  return byDigest === undefined ? byTag : Math.max(byTag, byDigest);
}

/**
 * The registry with every manifest GET noted as a pull (HEADs are not: tools polling for updates
 * would keep every tag "pulled"). Names `exempt` says (mirrored ones, which the mirror notes under
 * their stored names) pass through.
 */
export function recordingPulls(registry: Registry, records: PullRecords, exempt: (name: string) => boolean = () => false): Registry {
  return decorate(registry, {
    manifests: {
      async get(name, ref, accept) {
        const found = await registry.manifests.get(name, ref, accept);
        if (!exempt(name)) records.note(name, found.digest, ref.tag);
        return found;
      },
    },
  });
}
