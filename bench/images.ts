import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createBucket, emptyBucket, startS3, startS3Server, type S3Server } from '../test/support/s3.ts';
import { startServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { makeLayeredImage, type LayeredImage } from './layered-image.ts';
import type { PullResult } from './pull-clients.ts';
import { clientCore, median, serverCore, showSpread, spread, table } from './tools.ts';

const run = promisify(execFile);
const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
const repo = 'bench/image';

/** Concurrent pullers, and the layers each fetches at once (dockerd's max-concurrent-downloads). */
const clients = 64;
const perClient = 3;

type Target = 'distribution' | 'node' | 'bun' | 'deno' | 'node-s3';
/**
 * The concurrent pulls skip S3: RGW runs in memory on these same two cores, unpinned, and serves
 * berth ~150 MB/s (see Storage), so 64 × the image would take minutes a round and measure RGW.
 */
const concurrentTargets: ReadonlySet<Target> = new Set(['distribution', 'node', 'bun', 'deno']);
const label: Record<Target, string> = {
  distribution: 'distribution 2.8',
  node: 'berth (node, fs)',
  bun: 'berth (bun, fs)',
  deno: 'berth (deno, fs)',
  'node-s3': 'berth (node, s3)',
};

export interface ImageFigures {
  push: number[];
  pull: number[];
  concurrent: PullResult[];
}

const skopeo = (...args: string[]) => run(clientCore[0]!, [...clientCore.slice(1), 'skopeo', '--insecure-policy', ...args], { maxBuffer: 64 << 20 });

async function seconds(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return (performance.now() - started) / 1000;
}

/** Starts `target` fresh on an empty data directory (or bucket), pinned to the server core. */
async function start(target: Target, s3: S3Server | undefined): Promise<{ url: string; stop(): Promise<void> }> {
  if (target === 'distribution') {
    const d = await startDistribution(serverCore);
    return { url: d.url, stop: () => d.stop() };
  }
  if (target === 'node-s3') {
    if (!s3) throw new Error('berth on S3 needs an S3 server');
    const bucket = await createBucket(s3, 'bench-image');
    const s = await startS3Server(s3, bucket, { wrap: serverCore, env: quiet });
    return { url: s.url, stop: async () => (await s.stop(), await emptyBucket(s3, bucket)) };
  }
  const s = await startServer({ runtime: target, wrap: serverCore, env: quiet });
  return { url: s.url, stop: () => s.stop() };
}

/** 64 pulls at once by the lean Node client (bench/pull-clients.ts), in its own process on the client core. */
async function concurrentPulls(url: string, tag: string): Promise<PullResult> {
  const script = join(import.meta.dirname, 'pull-clients.js');
  const { stdout } = await run(clientCore[0]!, [...clientCore.slice(1), process.execPath, script, url, repo, tag, String(clients), String(perClient)]);
  return JSON.parse(stdout) as PullResult;
}

/** One round on one target: fresh server, push, pull, then the concurrent pulls. */
async function round(target: Target, image: LayeredImage, s3: S3Server | undefined, figures: ImageFigures): Promise<void> {
  const server = await start(target, s3);
  const dest = await mkdtemp(join(tmpdir(), 'berth-bench-pull-'));
  try {
    const ref = `docker://${new URL(server.url).host}/${repo}:${image.tag}`;
    const push = await seconds(() => skopeo('copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, ref));
    const pull = await seconds(() => skopeo('copy', '--src-tls-verify=false', ref, `dir:${dest}`));
    figures.push.push(push);
    figures.pull.push(pull);
    process.stderr.write(`  ${label[target]}: skopeo push ${push.toFixed(2)} s, pull ${pull.toFixed(2)} s\n`);
    if (!concurrentTargets.has(target)) return;
    const result = await concurrentPulls(server.url, image.tag);
    const expected = clients * image.bytes;
    if (result.bytes !== expected) throw new Error(`${label[target]}: the concurrent pulls fetched ${result.bytes} bytes, expected ${expected}`);
    figures.concurrent.push(result);
    process.stderr.write(`  ${label[target]}: ${clients} concurrent pulls ${result.seconds.toFixed(2)} s\n`);
  } finally {
    await rm(dest, { recursive: true, force: true });
    await server.stop();
  }
}

/**
 * A 50-layer image pushed and pulled with skopeo, then pulled by 64 clients at once, on CNCF
 * distribution and on berth (Node, Bun and Deno on local disk; with `s3`, Node on S3 too, for the
 * push and pull only). Rounds are interleaved: each round runs every target once, each on a
 * fresh server.
 */
export async function imageComparison(repeats = 3, opts: { s3?: boolean } = {}): Promise<{ figures: Partial<Record<Target, ImageFigures>>; report: string }> {
  const targets: Target[] = ['distribution', 'node', 'bun', 'deno', ...(opts.s3 ? (['node-s3'] as const) : [])];
  process.stderr.write('  images: writing the 50-layer image\n');
  const image = await makeLayeredImage();
  const blank = (): ImageFigures => ({ push: [], pull: [], concurrent: [] });
  const figures: Record<Target, ImageFigures> = { distribution: blank(), node: blank(), bun: blank(), deno: blank(), 'node-s3': blank() };
  let s3: S3Server | undefined;
  try {
    if (opts.s3) s3 = await startS3();
    for (let i = 0; i < repeats; i++) {
      process.stderr.write(`  images: round ${i + 1} of ${repeats}\n`);
      for (const target of targets) await round(target, image, s3, figures[target]);
    }
  } finally {
    await s3?.stop();
    await rm(image.dir, { recursive: true, force: true });
  }
  return { figures: Object.fromEntries(targets.map((t) => [t, figures[t]])), report: report(image, repeats, targets, figures) };
}

function report(image: LayeredImage, repeats: number, targets: Target[], figures: Record<Target, ImageFigures>): string {
  const size = `${image.layers} layers, ${(image.bytes / MiB).toFixed(0)} MiB`;
  const base = figures.distribution;
  const faster = (ours: number, theirs: number): string => `${(theirs / ours).toFixed(2)}×`;
  const pushPull = [['server', 'push s', 'push speed-up', 'pull s', 'pull speed-up']];
  const concurrent = [['server', 'wall s', 'MB/s', '÷ distribution', 'median client s', 'slowest client s', 'client CPU %', 'GETs resent']];
  const baseMBps = median(base.concurrent.map((r) => r.bytes / r.seconds));
  const secs = (xs: number[]): string => showSpread(spread(xs), (n) => n.toFixed(2));
  for (const t of targets) {
    const f = figures[t];
    const push = median(f.push);
    const pull = median(f.pull);
    pushPull.push([label[t], secs(f.push), faster(push, median(base.push)), secs(f.pull), faster(pull, median(base.pull))]);
    if (!concurrentTargets.has(t)) continue;
    const mbps = spread(f.concurrent.map((r) => r.bytes / r.seconds));
    concurrent.push([
      label[t],
      secs(f.concurrent.map((r) => r.seconds)),
      showSpread(mbps, (n) => (n / 1e6).toFixed(0)),
      `${(mbps.median / baseMBps).toFixed(2)}×`,
      secs(f.concurrent.map((r) => median(r.clientSeconds))),
      secs(f.concurrent.map((r) => r.clientSeconds.at(-1) ?? 0)),
      showSpread(spread(f.concurrent.map((r) => (100 * r.cpuSeconds) / r.seconds))),
      showSpread(spread(f.concurrent.map((r) => r.retries))),
    ]);
  }
  return [
    `Image push and pull with skopeo (${size}; server on core 0, skopeo on core 1; a fresh server per round; median (min–max) of ${repeats} interleaved rounds, ratios of medians)`,
    'speed-up = distribution\'s seconds ÷ this server\'s seconds: above 1 means faster than distribution',
    '',
    table(pushPull),
    '',
    `${clients} concurrent pulls of the same image (one Node process with undici on core 1: manifest, config, every layer, ${perClient} layers at a time per client; median (min–max) of ${repeats})`,
    '',
    table(concurrent),
  ].join('\n');
}
