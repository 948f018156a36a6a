import { startServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { measurePush, pushModes, type PushResult, type Target } from './push-memory.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function parseSize(s: string | undefined, fallback: number): number {
  if (!s) return fallback;
  const m = /^(\d+)(MiB|GiB)?$/.exec(s);
  if (!m) throw new Error(`bad size ${s}: use e.g. 1GiB or 256MiB`);
  return Number(m[1]) * (m[2] === 'GiB' ? GiB : m[2] === 'MiB' ? MiB : 1);
}

const mib = (n: number): string => (n / MiB).toFixed(1);

function table(results: PushResult[]): string {
  const rows = [['target', 'mode', 'MB/s', 'idle RSS MiB', 'peak RSS MiB', 'peak - idle MiB']];
  for (const r of results) {
    rows.push([r.target, r.mode, r.mbPerSecond.toFixed(0), mib(r.idleRss), mib(r.peakRss), mib(r.peakRss - r.idleRss)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

/**
 * `npm run bench [-- --size 1GiB]`: pushes one blob of `size` bytes to berth (Node, local disk)
 * and to CNCF distribution in the same run, in one PUT and in 1 MiB PATCHes, and prints each
 * server's throughput and peak RSS above its idle RSS.
 */
async function main(): Promise<void> {
  const sizeArg = process.argv.indexOf('--size');
  const size = parseSize(sizeArg >= 0 ? process.argv[sizeArg + 1] : process.env.BENCH_SIZE, GiB);
  const berth = await startServer();
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
  console.log(`\nPush of a ${mib(size)} MiB blob: server memory and throughput\n`);
  console.log(table(results));
  for (const mode of Object.keys(pushModes)) {
    const [b, d] = targets.map((t) => results.find((r) => r.target === t.name && r.mode === mode)!);
    if (b && d) console.log(`${mode}: berth/distribution throughput ratio ${(b.mbPerSecond / d.mbPerSecond).toFixed(2)}`);
  }
}

await main();
