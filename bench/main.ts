import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { table } from './tools.ts';
import { measurePush, pushModes, type PushResult, type Target } from './push-memory.ts';
import { runtimeComparison } from './runtimes.ts';
import { storageComparison } from './storage.ts';
import { mirrorComparison } from './mirror.ts';
import { imageComparison } from './images.ts';
import { otelComparison } from './otel.ts';
import { fleetComparison } from './fleet.ts';
import { uiComparison } from './ui.ts';
import { loginFloodComparison } from './logins.ts';
import { bigManifestComparison } from './manifests-big.ts';
import { renderSvg, summaryRows, summaryTable, type BenchFigures } from './report.ts';

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
async function pushMemory(size: number): Promise<{ figures: PushResult[]; report: string }> {
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
  return { figures: results, report: lines.join('\n') };
}

/** bench/results in the source tree, whether this runs as dist/bench/main.js or as bench/main.ts. */
function resultsDir(): string {
  const here = import.meta.dirname;
  const root = basename(dirname(here)) === 'dist' ? dirname(dirname(here)) : dirname(here);
  return join(root, 'bench', 'results');
}

/**
 * `npm run bench [-- --size 1GiB] [--only push|runtimes|storage|mirror|images|ui|logins|otel|manifests-big|fleet] [--repeats 3] [--s3]`:
 * every scenario and its report, then one summary against issue 8's targets, written with all
 * figures to bench/results/<timestamp>.json and .svg (and latest.json, latest.svg);
 * `--s3` adds berth on S3 to the image push and pull. The method is in bench/README.md.
 */
async function main(): Promise<void> {
  const started = new Date();
  const machine = { hostname: hostname(), cpu: cpus()[0]?.model ?? 'unknown', nproc: availableParallelism(), loadavg: loadavg() };
  const size = parseSize(flag('--size') ?? process.env.BENCH_SIZE, GiB);
  const only = flag('--only');
  const repeats = Number(flag('--repeats') ?? 3);
  const s3 = process.argv.includes('--s3');
  const reports: string[] = [];
  const figures: BenchFigures & Record<string, unknown> = { size };
  const scenario = async <T>(name: string, run: () => Promise<{ figures: T; report: string }>): Promise<T | undefined> => {
    if (only && only !== name) return undefined;
    const r = await run();
    reports.push(r.report);
    return r.figures;
  };
  figures.runtimes = await scenario('runtimes', () => runtimeComparison(size, repeats));
  figures.push = await scenario('push', () => pushMemory(size));
  figures.storage = await scenario('storage', () => storageComparison(size, repeats));
  figures.mirror = await scenario('mirror', () => mirrorComparison(repeats));
  figures.images = await scenario('images', () => imageComparison(repeats, { s3 }));
  figures.ui = await scenario('ui', () => uiComparison(repeats));
  figures.logins = await scenario('logins', () => loginFloodComparison());
  figures.otel = await scenario('otel', () => otelComparison(repeats));
  figures.manifestsBig = await scenario('manifests-big', () => bigManifestComparison());
  figures.fleet = await scenario('fleet', () => fleetComparison(repeats));

  const rows = summaryRows(figures);
  console.log(`\n${reports.join('\n\n')}\n\n${summaryTable(rows)}`);

  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  // An ISO timestamp with the colons replaced, so the name is a valid file name everywhere.
  const stamp = started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const json = join(dir, `${stamp}.json`);
  const svg = join(dir, `${stamp}.svg`);
  const options = { size, only: only ?? null, repeats, s3 };
  const finished = new Date().toISOString();
  await writeFile(json, `${JSON.stringify({ started: started.toISOString(), finished, machine, options, summary: rows, figures }, null, 2)}\n`);
  const title = `berth vs distribution, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine.hostname} (${machine.nproc} cores, load ${machine.loadavg[0]!.toFixed(2)})`;
  await writeFile(svg, renderSvg(rows, title));
  await copyFile(json, join(dir, 'latest.json'));
  await copyFile(svg, join(dir, 'latest.svg'));
  console.log(`\nResults: ${json}\n         ${svg}\n         (and latest.json, latest.svg beside them)`);
}

await main();
