import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, type FaultProxy } from '../test/support/fault-proxy.ts';
import { makeImageLayout } from '../test/support/oci-layout.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import type { MirrorFigures } from './report.ts';
import { median, serverCore, showSpread, spread, table } from './tools.ts';

const run = promisify(execFile);
const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20 });
const quiet = { BERTH_LOG__REQUESTS: 'false' };

/** Seconds to pull every platform of `ref` into a fresh OCI layout with skopeo. */
async function pull(ref: string): Promise<number> {
  const dest = await mkdtemp(join(tmpdir(), 'berth-bench-pull-'));
  const started = performance.now();
  try {
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:x`);
    return (performance.now() - started) / 1000;
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

interface BenchMirror {
  server: TestServer;
  remove(): Promise<void>;
}

/** A berth mirroring `upstream` under the prefix `up`, or (`asDefault`) under its own names. */
async function startMirror(upstream: { url: string }, asDefault = false): Promise<BenchMirror> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-mirror-'));
  const file = join(dir, 'berth.yml');
  await writeFile(file, `mirror:\n${asDefault ? '  default: up\n' : ''}  upstreams:\n    - { name: up, url: "${upstream.url}", prefix: up, tagTtl: 5m }\n`);
  const server = await startServer({ args: ['--config', file], wrap: serverCore, env: quiet });
  return { server, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Seconds of a cold pull through two fresh chained mirrors: an outer berth whose upstream is a
 * middle berth mirroring the upstream (distribution issue 4747's setup).
 */
async function chainedColdPull(upstream: FaultProxy): Promise<number> {
  const middle = await startMirror(upstream, true);
  const outer = await startMirror(middle.server);
  try {
    return await pull(`${new URL(outer.server.url).host}/up/bench/app:v1`);
  } finally {
    for (const m of [outer, middle]) {
      await m.server.stop();
      await m.remove();
    }
  }
}

/**
 * Pulls through the mirror (berth on Node, local disk) from CNCF distribution behind a counting
 * proxy: a direct pull from the upstream, a cold pull, a warm pull and a pull of the same image
 * pushed locally into berth, and a cold pull through two chained mirrors; then 8 concurrent cold pulls on an empty mirror, counting upstream
 * GETs per blob.
 */
export async function mirrorComparison(repeats = 3): Promise<{ figures: MirrorFigures; report: string }> {
  const layout = await makeImageLayout('v1', Array.from({ length: 8 }, () => 2 << 20));
  const distribution = await startDistribution();
  const proxy = await startFaultProxy(distribution.url);
  const upHost = new URL(distribution.url).host;
  let mirror = await startMirror(proxy);
  const host = new URL(mirror.server.url).host;
  const times: Record<string, number[]> = { direct: [], cold: [], warm: [], local: [], chained: [] };
  let concurrent = { blobs: 0, maxGets: 0, totalGets: 0, seconds: 0 };
  let concurrentSeconds = spread([]);
  try {
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${upHost}/bench/app:v1`);
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${host}/local/app:v1`);
    for (let i = 0; i < repeats; i++) {
      process.stderr.write(`  mirror: round ${i + 1} of ${repeats}\n`);
      times.direct!.push(await pull(`${upHost}/bench/app:v1`));
      // A fresh mirror each round, so the cold pull really is cold.
      await mirror.server.stop();
      await mirror.remove();
      mirror = await startMirror(proxy);
      const mirrorHost = new URL(mirror.server.url).host;
      await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${mirrorHost}/local/app:v1`);
      times.cold!.push(await pull(`${mirrorHost}/up/bench/app:v1`));
      times.warm!.push(await pull(`${mirrorHost}/up/bench/app:v1`));
      times.local!.push(await pull(`${mirrorHost}/local/app:v1`));
      times.chained!.push(await chainedColdPull(proxy));
    }
    // The concurrent cold pulls, `repeats` times on a fresh mirror: their seconds as a spread, and
    // the upstream GETs per blob at their worst over the rounds (one blob fetched twice is a miss).
    const seconds: number[] = [];
    for (let i = 0; i < repeats; i++) {
      process.stderr.write(`  mirror: 8 concurrent cold pulls (round ${i + 1} of ${repeats})\n`);
      await mirror.server.stop();
      await mirror.remove();
      mirror = await startMirror(proxy);
      const mirrorHost = new URL(mirror.server.url).host;
      proxy.reset();
      const started = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => pull(`${mirrorHost}/up/bench/app:v1`)));
      seconds.push((performance.now() - started) / 1000);
      const gets = new Map<string, number>();
      for (const r of proxy.requests) if (r.method === 'GET' && r.path.includes('/blobs/')) gets.set(r.path, (gets.get(r.path) ?? 0) + 1);
      const totalGets = [...gets.values()].reduce((a, b) => a + b, 0);
      const maxGets = Math.max(0, ...gets.values());
      // The worst round: the most GETs beyond one per blob.
      if (i === 0 || totalGets - gets.size > concurrent.totalGets - concurrent.blobs) concurrent = { blobs: gets.size, maxGets, totalGets, seconds: 0 };
      concurrent.maxGets = Math.max(concurrent.maxGets, maxGets);
    }
    concurrentSeconds = spread(seconds);
    concurrent.seconds = concurrentSeconds.median;
  } finally {
    await mirror.server.stop();
    await mirror.remove();
    await proxy.close();
    await distribution.stop();
    await rm(layout.dir, { recursive: true, force: true });
  }
  const direct = median(times.direct!);
  const local = median(times.local!);
  const rows = [['pull (skopeo copy --all, 2 platforms, 17 layers, ~34 MiB)', 'seconds', '÷ direct', '÷ local']];
  for (const [name, label] of [['direct', 'direct from the upstream'], ['cold', 'cold through the mirror'], ['warm', 'warm through the mirror'], ['local', 'local push repository in berth'], ['chained', 'cold through two chained mirrors']] as const) {
    const t = spread(times[name]!);
    rows.push([label, showSpread(t, (n) => n.toFixed(2)), (t.median / direct).toFixed(2), (t.median / local).toFixed(2)]);
  }
  const figures: MirrorFigures = {
    seconds: { direct, cold: median(times.cold!), warm: median(times.warm!), local, chained: median(times.chained!) },
    concurrent,
  };
  const report = [
    `Mirror (berth on Node and local disk, pinned; upstream CNCF distribution behind a counting proxy, on the client core; median (min–max) of ${repeats}, ratios of medians)`,
    '',
    table(rows),
    '',
    `8 concurrent cold pulls, ${repeats} rounds: ${showSpread(concurrentSeconds, (n) => n.toFixed(2))} s; ${concurrent.blobs} blobs, upstream GETs in the worst round ${concurrent.totalGets} (at most ${concurrent.maxGets} per blob)`,
  ].join('\n');
  return { figures, report };
}
