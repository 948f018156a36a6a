import process from 'node:process';
import { parseArgs } from 'node:util';
import type { PrefetchProgress, PrefetchSummary } from '../mirror/prefetch.ts';
import { StoredRegistry } from '../registry/registry.ts';
import { createStorage } from '../storage/create.ts';
import { commandConfig } from './command-config.ts';

export const mirrorUsage = `  mirror prefetch   fetch mirror.prefetch's images now (what is stored already is skipped)
    --config FILE        YAML configuration file (env BERTH_CONFIG)
    --data DIR           local storage directory (env BERTH_DATA)
`;

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** A bar redrawn in place, only when stderr is a terminal: the blobs of the tag under way. */
function progressBar(): PrefetchProgress & { end(): void } {
  if (!process.stderr.isTTY) return Object.assign(() => undefined, { end: () => undefined });
  let drawn = false;
  const draw: PrefetchProgress = ({ image, tag, blobsDone, blobsKnown, bytes }) => {
    const width = 24;
    const filled = blobsKnown === 0 ? width : Math.round((blobsDone / blobsKnown) * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${blobsDone}/${blobsKnown} blobs ${mib(bytes)}  ${image}:${tag}`;
    process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 100) - 1)}\x1b[K`);
    drawn = true;
  };
  return Object.assign(draw, { end: () => void (drawn && process.stderr.write('\n')) });
}

export function prefetchSummary(s: PrefetchSummary): string {
  return [
    `${s.images} images, ${s.tags} tags, ${s.manifests} manifests`,
    `fetched ${s.blobsFetched} blobs (${mib(s.bytesFetched)}); ${s.blobsPresent} already here`,
    ...s.failures.map((f) => `failed: ${f.what}: ${f.error}`),
  ].join('\n');
}

/**
 * `berth mirror prefetch`: the configured images fetched once through a mirror built on the
 * configured storage, as the server's scheduled prefetch does; exit 1 when any failed. Another
 * process (the server) may serve the same storage meanwhile: a blob both fetch is committed once.
 */
export async function runMirrorCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'prefetch') {
    process.stderr.write(`berth mirror: unknown command${sub === undefined ? '' : ` "${sub}"`}\n\n${mirrorUsage}`);
    return 2;
  }
  let flags;
  try {
    flags = parseArgs({ args: rest, options: { config: { type: 'string' }, data: { type: 'string' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    process.stderr.write(`berth mirror prefetch: ${e instanceof Error ? e.message : String(e)}\n\n${mirrorUsage}`);
    return 2;
  }
  const config = await commandConfig(flags, env);
  if (!config) return 2;
  if (config.mirror.prefetch.images.length === 0) {
    process.stderr.write('berth mirror prefetch: mirror.prefetch.images is empty: nothing to fetch\n');
    return 2;
  }
  const storage = await createStorage(config.storage);
  try {
    await storage.ready;
  } catch (e) {
    process.stderr.write(`berth mirror prefetch: storage ${storage.describe} is not usable: ${e instanceof Error ? e.message : String(e)}\n`);
    storage.close();
    return 1;
  }
  // Without the serving registry's cache: another process may be writing. Loaded here, as the
  // server loads it, so that the other commands do not load the mirror's HTTP client.
  const { createMirror } = await import('../mirror/create.ts');
  const mirror = createMirror(config.mirror, new StoredRegistry(storage.driver));
  if (!mirror) {
    process.stderr.write('berth mirror prefetch: mirror.upstreams is empty: nothing is mirrored\n');
    storage.close();
    return 2;
  }
  const bar = progressBar();
  try {
    const summary = await mirror.prefetcher.run(bar);
    bar.end();
    process.stdout.write(`${prefetchSummary(summary)}\n`);
    return summary.failures.length > 0 ? 1 : 0;
  } finally {
    await mirror.close();
    storage.close();
  }
}
