import { execFile } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { availableParallelism, cpus, hostname, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { clientCore, serverCore, showSpread, table } from './tools.ts';
import { measurePush, pushModes, summarisePushes, type PushResult, type PushSample, type Target } from './push-memory.ts';
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

const run = promisify(execFile);
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
  const rows = [['target', 'mode', 'MB/s', 'idle RSS MiB', 'peak − idle RSS MiB']];
  for (const r of results) rows.push([r.target, r.mode, showSpread(r.mbPerSecond), showSpread(r.idleRss, mib), showSpread(r.peakOverIdle, mib)]);
  return table(rows);
}

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/**
 * Pushes a blob of `size` bytes (new bytes each push) to berth (Node, local disk) and to CNCF
 * distribution, both pinned to the server core, in one PUT and in 1 MiB PATCHes, `repeats` rounds
 * in turn, and prints each server's throughput and peak RSS above its idle RSS.
 */
async function pushMemory(size: number, repeats: number): Promise<{ figures: PushResult[]; report: string }> {
  const berth = await startServer({ wrap: serverCore, env: { BERTH_LOG__REQUESTS: 'false' } });
  const distribution = await startDistribution(serverCore);
  const targets: Target[] = [
    { name: 'berth (node, fs)', url: berth.url, pid: berth.process.pid! },
    { name: 'distribution 2.8', url: distribution.url, pid: distribution.process.pid! },
  ];
  const samples: PushSample[] = [];
  try {
    for (let i = 0; i < repeats; i++) {
      for (const mode of Object.keys(pushModes) as Array<keyof typeof pushModes>) {
        for (const t of targets) {
          process.stderr.write(`pushing ${mib(size)} MiB to ${t.name} (${mode}, round ${i + 1} of ${repeats})...\n`);
          samples.push(await measurePush(t, mode, size));
        }
      }
    }
  } finally {
    await berth.stop();
    await distribution.stop();
  }
  const results = summarisePushes(samples);
  const lines = [`Push of a ${mib(size)} MiB blob: server memory and throughput (both pinned to core 0, the client on core 1; median (min–max) of ${repeats})\n`, pushTable(results)];
  for (const mode of Object.keys(pushModes)) {
    const [b, d] = targets.map((t) => results.find((r) => r.target === t.name && r.mode === mode)!);
    if (b && d) lines.push(`${mode}: berth/distribution throughput ratio of medians ${(b.mbPerSecond.median / d.mbPerSecond.median).toFixed(2)}`);
  }
  return { figures: results, report: lines.join('\n') };
}

/**
 * Pins this process, and so every client it runs in-process (the push and UI clients, the
 * mirror's counting proxy, the login flood) and every child it spawns unpinned, to the client
 * core; servers are spawned under `taskset -c 0`, which overrides the inherited mask.
 */
async function pinToClientCore(): Promise<void> {
  await run('taskset', ['-a', '-p', '-c', clientCore.at(-1)!, String(process.pid)]);
}

/** bench/results in the source tree, whether this runs as dist/bench/main.js or as bench/main.ts. */
function resultsDir(): string {
  const here = import.meta.dirname;
  const root = basename(dirname(here)) === 'dist' ? dirname(dirname(here)) : dirname(here);
  return join(root, 'bench', 'results');
}

/**
 * `npm run bench [-- --size 1GiB] [--only push|runtimes|storage|mirror|images|ui|logins|otel|manifests-big|fleet] [--repeats 3] [--s3]`:
 * every scenario and its report, then one summary against the targets of issues 8 and 15, written with all
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
  await pinToClientCore();
  const reports: string[] = [];
  const failed: string[] = [];
  const figures: BenchFigures & Record<string, unknown> = { size };
  const scenario = async <T>(name: string, run: () => Promise<{ figures: T; report: string }>): Promise<T | undefined> => {
    if (only && only !== name) return undefined;
    try {
      const r = await run();
      reports.push(r.report);
      return r.figures;
    } catch (err) {
      // One broken scenario (a peer that would not start, a client missing) costs its own figures,
      // not the hour the others took: the run goes on, says which failed, and exits non-zero.
      failed.push(name);
      reports.push(`## ${name}: FAILED\n\n${err instanceof Error ? err.message : String(err)}`);
      console.error(`bench: scenario ${name} failed:`, err);
      return undefined;
    }
  };
  figures.runtimes = await scenario('runtimes', () => runtimeComparison(size, repeats));
  figures.push = await scenario('push', () => pushMemory(size, repeats));
  figures.storage = await scenario('storage', () => storageComparison(size, repeats));
  figures.mirror = await scenario('mirror', () => mirrorComparison(repeats));
  figures.images = await scenario('images', () => imageComparison(repeats, { s3 }));
  figures.ui = await scenario('ui', () => uiComparison(repeats));
  figures.logins = await scenario('logins', () => loginFloodComparison(repeats));
  figures.otel = await scenario('otel', () => otelComparison(repeats));
  figures.manifestsBig = await scenario('manifests-big', () => bigManifestComparison(repeats));
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
  await writeFile(json, `${JSON.stringify({ started: started.toISOString(), finished, machine, options, failed, summary: rows, figures }, null, 2)}\n`);
  const title = `berth vs distribution, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine.hostname} (${machine.nproc} cores, load ${machine.loadavg[0]!.toFixed(2)})`;
  await writeFile(svg, renderSvg(rows, title));
  await copyFile(json, join(dir, 'latest.json'));
  await copyFile(svg, join(dir, 'latest.svg'));
  console.log(`\nResults: ${json}\n         ${svg}\n         (and latest.json, latest.svg beside them)`);
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} scenario(s) failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
