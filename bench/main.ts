import { startServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { table } from './tools.ts';
import { measurePush, pushModes, type PushResult, type Target } from './push-memory.ts';
import { runtimeComparison } from './runtimes.ts';
import { storageComparison } from './storage.ts';
import { mirrorComparison } from './mirror.ts';
import { imageComparison } from './images.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function parseSize(s: string | undefined, fallback: number): number {
  if (!s) return fallback;
  const m = /^(\d+)(MiB|GiB)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}: use e.g. 1GiB or 256MiB`);
  return Number(m[1]) * (m[2] === 'GiB' ? GiB : m[2] === 'MiB' ? MiB : 1);
}

const mib = (n: number): string => (n / MiB).toFixed(1);

function pushTable(results: PushResult[]): string {
  const rows = [['target', 'mode', 'MB/s', 'idle RSS MiB', 'peak RSS MiB', 'peak - idle MiB']];
  for (const r of results) {
    rows.push([r.target, r.mode, r.mbPerSecond.toFixed(0), mib(r.idleRss), mib(r.peakRss), mib(r.peakRss - r.idleRss)]);
  }
  return table(rows);
}

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/**
 * Pushes one blob of `size` bytes to berth (Node, local disk) and to CNCF distribution in the
 * same run, in one PUT and in 1 MiB PATCHes, and prints each server's throughput and peak RSS
 * above its idle RSS.
 */
async function pushMemory(size: number): Promise<string> {
  const berth = await startServer({ env: { BERTH_LOG__REQUESTS: 'false' } });
  const distribution = await startDistribution();
  const targets: Target[] = [
    { name: 'berth (node, fs)', url: berth.url, pid: berth.process.pid! },
    { name: 'distribution 2.8', url: distribution.url, pid: distribution.process.pid! },
  ];
  const results: PushResult[] = [];
  try {
    for (const mode of Object.keys(pushModes) as Array<keyof typeof pushModes>) {
      for (const t of targets) {
        process.stderr.write(`pushing ${mib(size)} MiB to ${t.name} (${mode})...\n`);
        results.push(await measurePush(t, mode, size));
      }
    }
  } finally {
    await berth.stop();
    await distribution.stop();
  }
  const lines = [`Push of a ${mib(size)} MiB blob: server memory and throughput\n`, pushTable(results)];
  for (const mode of Object.keys(pushModes)) {
    const [b, d] = targets.map((t) => results.find((r) => r.target === t.name && r.mode === mode)!);
    if (b && d) lines.push(`${mode}: berth/distribution throughput ratio ${(b.mbPerSecond / d.mbPerSecond).toFixed(2)}`);
  }
  return lines.join('\n');
}

/**
 * `npm run bench [-- --size 1GiB] [--only push|runtimes|storage|mirror|images] [--repeats 3] [--s3]`:
 * every scenario, then one report; `--s3` adds berth on S3 to the image push and pull.
 * The method is in bench/README.md.
 */
async function main(): Promise<void> {
  const size = parseSize(flag('--size') ?? process.env.BENCH_SIZE, GiB);
  const only = flag('--only');
  const reports: string[] = [];
  const repeats = Number(flag('--repeats') ?? 3);
  if (!only || only === 'runtimes') reports.push(await runtimeComparison(size, repeats));
  if (!only || only === 'push') reports.push(await pushMemory(size));
  if (!only || only === 'storage') reports.push(await storageComparison(size, repeats));
  if (!only || only === 'mirror') reports.push(await mirrorComparison(repeats));
  if (!only || only === 'images') reports.push(await imageComparison(repeats, { s3: process.argv.includes('--s3') }));
  console.log(`\n${reports.join('\n\n')}`);
}

await main();
