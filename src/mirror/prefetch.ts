import type { Logger } from '../observability/log.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { isOciError } from '../oci/errors.ts';
import { manifestKind, manifestMediaTypes } from '../oci/media-types.ts';
import type { Registry } from '../registry/registry.ts';
import type { PrefetchImage, PrefetchOptions } from './schema.ts';
import { compareVersions, parseRange, parseVersion, type Version } from './versions.ts';

/** What one run did, for the CLI's summary and the log. */
export interface PrefetchSummary {
  images: number;
  tags: number;
  manifests: number;
  /** Blobs fetched from the upstream now, and their bytes. */
  blobsFetched: number;
  bytesFetched: number;
  /** Blobs already stored: not fetched again (a second run, or an interrupted one resumed). */
  blobsPresent: number;
  /** What could not be fetched: `<name>:<tag>` or a digest, and why (in the spec's words). */
  failures: Array<{ what: string; error: string }>;
}

/** One scheduled run as metrics see it: the summary's counts, and how long it took. */
export type PrefetchRun = Omit<PrefetchSummary, 'failures'> & { failures: number; ms: number };

/** Told as the run goes: the blobs known so far and how many are done, for a progress bar. */
export type PrefetchProgress = (state: { image: string; tag: string; blobsDone: number; blobsKnown: number; bytes: number }) => void;

const text = new TextDecoder();
const accept = manifestMediaTypes.join(', ');

interface Listing {
  manifests?: Array<{ digest?: unknown; platform?: { os?: unknown; architecture?: unknown; variant?: unknown } }>;
  config?: { digest?: unknown };
  layers?: Array<{ digest?: unknown }>;
}

/** The tags of `all` that `image` asks for, in the order they will be fetched (highest versions first). */
export function selectTags(image: Pick<PrefetchImage, 'tags' | 'semver' | 'newest'>, all: readonly string[]): string[] {
  const patterns = image.tags?.map((t) => new RegExp(`^(?:${t})$`));
  const range = image.semver === undefined ? undefined : parseRange(image.semver);
  const picked: Array<{ tag: string; version: Version | undefined }> = [];
  for (const tag of all) {
    if (patterns && !patterns.some((p) => p.test(tag))) continue;
    const version = parseVersion(tag);
    if (range && (!version || !range(version))) continue;
    picked.push({ tag, version });
  }
  if (image.newest === undefined) return picked.map((p) => p.tag).sort();
  return picked
    .filter((p): p is { tag: string; version: Version } => p.version !== undefined)
    .sort((a, b) => compareVersions(b.version, a.version) || a.tag.localeCompare(b.tag))
    .slice(0, image.newest)
    .map((p) => p.tag);
}

/**
 * For retention: the tags of a stored repository that `images` selects, applying their filters to
 * the tags stored there (what the last run fetched and tagged, and any a client pulled), so the
 * images prefetch keeps warm are not evicted between its runs. `storedAs` maps a configured name
 * to the name its content is stored under.
 */
export function prefetchPins(
  images: readonly PrefetchImage[],
  storedAs: (name: string) => string | undefined,
): (name: string) => ((tags: readonly string[]) => string[]) | undefined {
  const byRepository = new Map<string, PrefetchImage[]>();
  for (const image of images) {
    const local = storedAs(image.name);
    if (local !== undefined) byRepository.set(local, [...(byRepository.get(local) ?? []), image]);
  }
  return (name) => {
    const mine = byRepository.get(name);
    return mine && ((tags) => [...new Set(mine.flatMap((image) => selectTags(image, tags)))]);
  };
}

const platformOf = (p: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined): string | undefined =>
  typeof p?.os === 'string' && typeof p.architecture === 'string' ? [p.os, p.architecture, ...(typeof p.variant === 'string' ? [p.variant] : [])].join('/') : undefined;

/** `linux/arm64` also takes `linux/arm64/v8`; `linux/arm64/v8` only that. */
const wanted = (platforms: readonly string[] | undefined, platform: string | undefined): boolean =>
  platforms === undefined || (platform !== undefined && platforms.some((w) => platform === w || platform.startsWith(`${w}/`)));

/**
 * Keeps images warm: for each configured image, the tags its filters select, the platforms asked
 * for, and every manifest and blob they reference, fetched through the mirror's registry exactly
 * as a client pull is (one fill per blob, shared with clients pulling it at the same moment, and
 * each served manifest noted as used, so retention's next sweep does not evict it by size). Blobs
 * already stored are not read: a run after an interrupted one fetches only what is missing.
 */
export class Prefetcher {
  readonly #registry: Registry;
  readonly #options: PrefetchOptions;

  constructor(registry: Registry, options: PrefetchOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  get configured(): boolean {
    return this.#options.images.length > 0;
  }

  async run(progress?: PrefetchProgress, signal?: AbortSignal): Promise<PrefetchSummary> {
    const summary: PrefetchSummary = { images: 0, tags: 0, manifests: 0, blobsFetched: 0, bytesFetched: 0, blobsPresent: 0, failures: [] };
    // `<name>@<digest>` of the blobs this run has taken up: a config or layer several tags share is counted once.
    const taken = new Set<string>();
    for (const image of this.#options.images) {
      if (signal?.aborted) break;
      summary.images++;
      let tags: string[];
      try {
        tags = selectTags(image, await this.#allTags(image.name));
      } catch (e) {
        summary.failures.push({ what: image.name, error: reason(e) });
        continue;
      }
      for (const tag of tags) {
        if (signal?.aborted) break;
        summary.tags++;
        try {
          await this.#tag(image, tag, { summary, taken, progress, signal });
        } catch (e) {
          summary.failures.push({ what: `${image.name}:${tag}`, error: reason(e) });
        }
      }
    }
    return summary;
  }

  async #allTags(name: string): Promise<string[]> {
    const all: string[] = [];
    let last: string | undefined;
    // The mirror pages what the upstream pages; 100 pages of a thousand is more than any repository has.
    for (let i = 0; i < 100; i++) {
      const page = await this.#registry.tags.list(name, { n: 1000, ...(last === undefined ? {} : { last }) });
      all.push(...page.items);
      if (page.next === undefined || page.items.length === 0) break;
      last = page.next;
    }
    return all;
  }

  async #tag(
    image: PrefetchImage,
    tag: string,
    { summary, taken, progress, signal }: { summary: PrefetchSummary; taken: Set<string>; progress?: PrefetchProgress | undefined; signal?: AbortSignal | undefined },
  ): Promise<void> {
    const blobs = new Map<string, Digest>();
    const images: Listing[] = [];
    const top = await this.#registry.manifests.get(image.name, { tag }, accept);
    summary.manifests++;
    const doc = JSON.parse(text.decode(top.bytes)) as Listing;
    if (manifestKind(top.mediaType) === 'index') {
      for (const child of doc.manifests ?? []) {
        if (typeof child.digest !== 'string' || !wanted(image.platforms, platformOf(child.platform))) continue;
        const got = await this.#registry.manifests.get(image.name, { digest: parseDigest(child.digest) }, accept);
        summary.manifests++;
        if (manifestKind(got.mediaType) === 'image') images.push(JSON.parse(text.decode(got.bytes)) as Listing);
      }
    } else images.push(doc);
    for (const m of images) {
      for (const d of [m.config, ...(m.layers ?? [])]) {
        if (typeof d?.digest !== 'string' || taken.has(`${image.name}@${d.digest}`)) continue;
        taken.add(`${image.name}@${d.digest}`);
        blobs.set(d.digest, parseDigest(d.digest));
      }
    }
    const queue = [...blobs.values()];
    let done = 0;
    let bytes = 0;
    const report = (): void => progress?.({ image: image.name, tag, blobsDone: done, blobsKnown: blobs.size, bytes });
    report();
    // One blob failing does not stop the others: what is stored now need not be fetched next time.
    let failure: unknown;
    const worker = async (): Promise<void> => {
      for (let digest = queue.shift(); digest !== undefined && !signal?.aborted; digest = queue.shift()) {
        try {
          if (await this.#registry.blobs.find(image.name, digest)) summary.blobsPresent++;
          else {
            const n = await this.#drain(image.name, digest);
            summary.blobsFetched++;
            summary.bytesFetched += n;
            bytes += n;
          }
        } catch (e) {
          failure ??= e;
        }
        done++;
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, Math.max(1, queue.length)) }, worker));
    if (failure !== undefined) throw failure;
  }

  /** Reads the blob through the mirror (which stores it as it streams) and drops the bytes. */
  async #drain(name: string, digest: Digest): Promise<number> {
    const reader = (await this.#registry.blobs.read(name, digest)).getReader();
    let n = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.byteLength;
    return n;
  }
}

function reason(e: unknown): string {
  if (isOciError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `prefetcher` once storage is ready (`start`) and every `intervalMs` after each run ends,
 * one run at a time, logging a summary line per run. `close` cuts the run under way short.
 */
export function schedulePrefetch(
  prefetcher: Prefetcher,
  intervalMs: number,
  logger: Logger | undefined,
  observe?: ((run: PrefetchRun) => void) | undefined,
): { start(): void; close(): Promise<void> } {
  const stop = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  const once = async (): Promise<void> => {
    const started = performance.now();
    const s = await prefetcher.run(undefined, stop.signal);
    const fields = { ...s, failures: s.failures.length, ms: Math.round(performance.now() - started) };
    observe?.(fields);
    if (s.failures.length > 0) logger?.warn('mirror prefetch', { ...fields, failed: s.failures.slice(0, 10) });
    else logger?.info('mirror prefetch', fields);
  };
  const tick = (): void => {
    running = once()
      .catch((e: unknown) => logger?.warn('mirror prefetch failed', { error: reason(e) }))
      .finally(() => {
        running = undefined;
        if (!stop.signal.aborted) timer = setTimeout(tick, intervalMs);
      });
  };
  return {
    start: () => {
      if (intervalMs > 0 && prefetcher.configured && !stop.signal.aborted) tick();
    },
    close: async () => {
      stop.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
