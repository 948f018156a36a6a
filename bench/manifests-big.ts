import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { RuntimeName } from '../test/support/server.ts';
import { forEachBounded } from '../src/registry/bounded.ts';
import { expectStatus, pushSmallBlob, send } from './http.ts';
import { resetPeak, rss } from './rss.ts';
import { startTarget } from './runtimes.ts';
import { showSpread, spread, table } from './tools.ts';

const MiB = 1024 ** 2;
/** The manifest size berth accepts by default: each manifest is as close to it as whole layers allow. */
const manifestLimit = 4 * MiB;
const concurrentPuts = 8;
/** How long after the PUTs the RSS is read again: memory the process keeps rather than frees. */
const settleSeconds = Number(process.env.BENCH_SETTLE ?? 30);

export interface BigManifestFigures {
  target: string;
  layers: number;
  manifestBytes: number;
  /** Wall time until the last of the concurrent PUTs answered. */
  seconds: number;
  statuses: number[];
  idleRss: number;
  peakRss: number;
  rssAfterSettle: number;
  probes: number;
  probeP50ms: number;
  probeP99ms: number;
  probeMaxMs: number;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const layerType = 'application/vnd.oci.image.layer.v1.tar';

/** A tiny distinct blob per layer, so the registry checks every descriptor as a real one. */
const layerBlob = (i: number): Buffer => Buffer.from(`layer ${i}\n`);

/** As many layers as fit in `manifestLimit` with room to spare for the rest of the document. */
function layerCount(): number {
  const one = JSON.stringify({ mediaType: layerType, digest: sha256(layerBlob(99_999)), size: layerBlob(99_999).length }).length + 1;
  return Math.floor((manifestLimit - 4096) / one);
}

function bigManifest(config: { digest: string; size: number }, layers: Array<{ digest: string; size: number }>, nonce: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: layerType, ...l })),
      annotations: { 'org.example.nonce': String(nonce) },
    }),
  );
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/**
 * Asks `GET /v2/` one request after another on one kept-alive connection until stopped: how long
 * a client with nothing to do with the big PUTs waits meanwhile.
 */
function probe(url: string): { stop(): Promise<number[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let stopped = false;
  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(`${url}/v2/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - started);
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
  const loop = (async () => {
    while (!stopped) await once();
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return latencies;
    },
  };
}

/** One server's figures: started fresh, filled, measured, stopped. */
export async function measureBigManifests(target: RuntimeName | 'distribution'): Promise<BigManifestFigures> {
  const server = await startTarget(target);
  try {
    return await measureRunning(server);
  } finally {
    await server.stop();
  }
}

/** The scenario against a server already running at `url` as process `pid`, with empty storage. */
export async function measureRunning(server: { name: string; url: string; pid: number }): Promise<BigManifestFigures> {
  const repo = 'bench/big';
  const count = layerCount();
  process.stderr.write(`  ${server.name}: pushing ${count} small layers...\n`);
  const layers = Array.from({ length: count }, (_, i) => ({ digest: sha256(layerBlob(i)), size: layerBlob(i).length }));
  await forEachBounded(layers.keys(), (i) => pushSmallBlob(server.url, repo, layerBlob(i), layers[i]!.digest), 32);
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config = { digest: sha256(configBytes), size: configBytes.length };
  await pushSmallBlob(server.url, repo, configBytes, config.digest);
  const manifests = Array.from({ length: concurrentPuts }, (_, i) => bigManifest(config, layers, i));

  process.stderr.write(`  ${server.name}: ${concurrentPuts} concurrent PUTs of ${(manifests[0]!.length / MiB).toFixed(2)} MiB manifests\n`);
  await new Promise((r) => setTimeout(r, 1000));
  const idleRss = (await rss(server.pid)).current;
  await resetPeak(server.pid);
  const probing = probe(server.url);
  const started = performance.now();
  const replies = await Promise.all(
    manifests.map((m, i) => send('PUT', `${server.url}/v2/${repo}/manifests/big-${i}`, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, m)),
  );
  const seconds = (performance.now() - started) / 1000;
  const latencies = (await probing.stop()).sort((a, b) => a - b);
  const peakRss = (await rss(server.pid)).peak;
  for (const r of replies) expectStatus(r, 201, `${server.name}: big manifest PUT`);
  process.stderr.write(`  ${server.name}: waiting ${settleSeconds} s for the RSS to settle\n`);
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  const rssAfterSettle = (await rss(server.pid)).current;
  return {
    target: server.name,
    layers: count,
    manifestBytes: manifests[0]!.length,
    seconds,
    statuses: replies.map((r) => r.status),
    idleRss,
    peakRss,
    rssAfterSettle,
    probes: latencies.length,
    probeP50ms: quantile(latencies, 0.5),
    probeP99ms: quantile(latencies, 0.99),
    probeMaxMs: latencies.at(-1) ?? 0,
  };
}

/**
 * Eight concurrent PUTs of manifests just under 4 MiB (tens of thousands of layers each, every
 * one a real blob in the repository) against berth on each runtime and distribution: peak RSS
 * above idle, RSS after the PUTs settled, and `GET /v2/` latency meanwhile (issue 12).
 */
export async function bigManifestComparison(repeats = 3): Promise<{ figures: BigManifestFigures[]; report: string }> {
  const results: BigManifestFigures[] = [];
  const targets = ['distribution', 'node', 'bun', 'deno'] as const;
  for (let i = 0; i < repeats; i++) {
    process.stderr.write(`big manifests: round ${i + 1} of ${repeats}\n`);
    for (const target of targets) results.push(await measureBigManifests(target));
  }
  const mib = (n: number): string => (n / MiB).toFixed(0);
  const rows = [['server', 'PUTs s', 'idle RSS MiB', 'peak − idle MiB', `RSS after ${settleSeconds} s MiB`, 'GET /v2/ n', 'p50 ms', 'p99 ms', 'max ms']];
  for (const name of new Set(results.map((r) => r.target))) {
    const rounds = results.filter((r) => r.target === name);
    const of = (pick: (r: BigManifestFigures) => number, format: (n: number) => string): string => showSpread(spread(rounds.map(pick)), format);
    const fixed = (digits: number) => (n: number): string => n.toFixed(digits);
    rows.push([
      name,
      of((r) => r.seconds, fixed(1)),
      of((r) => r.idleRss, mib),
      of((r) => r.peakRss - r.idleRss, mib),
      of((r) => r.rssAfterSettle, mib),
      of((r) => r.probes, fixed(0)),
      of((r) => r.probeP50ms, fixed(1)),
      of((r) => r.probeP99ms, fixed(1)),
      of((r) => r.probeMaxMs, fixed(0)),
    ]);
  }
  const first = results[0]!;
  return {
    figures: results,
    report: `Big manifests: ${concurrentPuts} concurrent PUTs of ${(first.manifestBytes / MiB).toFixed(2)} MiB manifests, ${first.layers} layers each (server on core 0, clients on core 1), with GET /v2/ asked meanwhile; median (min–max) of ${repeats} rounds, a fresh server each\n\n${table(rows)}`,
  };
}
