import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer, type RuntimeName, type TestServer } from '../test/support/server.ts';
import { expectStatus, pushSmallBlob, send } from './http.ts';
import { rss } from './rss.ts';
import { cpuSeconds, serverCore, showSpread, spread, table, wrk, type Spread, type WrkResult } from './tools.ts';

const MiB = 1024 ** 2;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** How the server is started: OpenTelemetry off, or on with a sampler. */
const modes = {
  off: {},
  'on, sampled 0': { OTEL_TRACES_SAMPLER: 'always_off' },
  'on, sampled 0.01': { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
  'on, sampled 1.0': { OTEL_TRACES_SAMPLER: 'always_on' },
} as const satisfies Record<string, Record<string, string>>;
type Mode = keyof typeof modes;

export interface OtelFigures {
  runtime: RuntimeName;
  mode: Mode;
  /** Manifest GET by tag, requests per second, over the repeats. */
  manifestGet: Spread;
  p99ms: Spread;
  /**
   * Server CPU time per request, in microseconds: what tracing costs, read from the process's own
   * clock, so a busy machine (other processes taking turns on the core) skews it far less than req/s.
   */
  cpuMicros: Spread;
  /** Resident memory once started, before any request. */
  idleRss: number;
  /** Spans the collector received per second the server was under load. */
  spansPerSecond: number;
}

/**
 * A stand-in collector that accepts every OTLP/HTTP export and counts the spans in it without
 * decoding the JSON, so it takes as little CPU from the run as it can. Each server exports to a
 * path of its own (`/<mode>/v1/traces`), so the counts are per server.
 */
async function startSink(): Promise<{ url: string; spans: (path: string) => number; close: () => Promise<void> }> {
  const spans = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    req.on('data', (chunk: Buffer) => {
      if (!path.endsWith('/v1/traces')) return;
      // Every span has exactly one "spanId" key (a parent's is "parentSpanId", with a capital S).
      let n = 0;
      for (let i = chunk.indexOf('"spanId"'); i >= 0; i = chunk.indexOf('"spanId"', i + 1)) n++;
      spans.set(path, (spans.get(path) ?? 0) + n);
    });
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: (path) => spans.get(path) ?? 0,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

async function pushManifest(url: string, repo: string): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.alloc(1024, 7);
  for (const b of [config, layer]) await pushSmallBlob(url, repo, b, sha256(b));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  expectStatus(await send('PUT', `${url}/v2/${repo}/manifests/bench`, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, manifest), 201, 'manifest push');
}

const tracesPath = (mode: Mode): string => `/${mode.replace(/[^a-z0-9.]+/g, '-')}/v1/traces`;

/**
 * One runtime, the four modes side by side: a server per mode, all started first, then each round
 * of wrk goes through the modes in turn, so the load of a shared machine drifting over the run
 * falls on every mode alike.
 */
async function measureRuntime(runtime: RuntimeName, sink: Awaited<ReturnType<typeof startSink>>, repeats: number): Promise<OtelFigures[]> {
  const names = Object.keys(modes) as Mode[];
  const servers: TestServer[] = [];
  try {
    for (const mode of names) {
      const otel = mode === 'off' ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sink.url}${tracesPath(mode)}`, ...modes[mode] };
      servers.push(await startServer({ runtime, wrap: serverCore, env: { BERTH_LOG__REQUESTS: 'false', ...otel } }));
    }
    await new Promise((r) => setTimeout(r, 300));
    const idle = await Promise.all(servers.map(async (s) => (await rss(s.process.pid!)).current));
    const repo = 'bench/otel';
    for (const s of servers) await pushManifest(s.url, repo);
    const runs: WrkResult[][] = names.map(() => []);
    const cpu: number[][] = names.map(() => []);
    const seconds = 5;
    const started = performance.now();
    for (let round = 0; round < repeats; round++) {
      for (const [i, s] of servers.entries()) {
        process.stderr.write(`  berth (${runtime}), otel ${names[i]}: manifest GET (wrk), round ${round + 1} of ${repeats}\n`);
        const cpuBefore = await cpuSeconds(s.process.pid!);
        const run = await wrk(`${s.url}/v2/${repo}/manifests/bench`, { seconds, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        const used = (await cpuSeconds(s.process.pid!)) - cpuBefore;
        // A run that served nothing (a server starved by the machine's other load) has no cost per request.
        if (run.requestsPerSecond > 0) cpu[i]!.push((used / (run.requestsPerSecond * seconds)) * 1e6);
        runs[i]!.push(run);
      }
    }
    // Spans still queued go out when a server stops.
    for (const s of servers) await s.stop();
    const elapsed = (performance.now() - started) / 1000;
    return names.map((mode, i) => ({
      runtime,
      mode,
      manifestGet: spread(runs[i]!.map((r) => r.requestsPerSecond)),
      p99ms: spread(runs[i]!.map((r) => r.p99ms)),
      cpuMicros: spread(cpu[i]!),
      idleRss: idle[i]!,
      // Each server was under load a quarter of the time.
      spansPerSecond: sink.spans(tracesPath(mode)) / (elapsed / names.length),
    }));
  } finally {
    for (const s of servers) await s.stop();
  }
}

/**
 * The cost of tracing on the hottest request, a cached manifest GET by tag: berth on each runtime
 * with OpenTelemetry off, then on with nothing sampled, 1% sampled and everything sampled,
 * exporting to a local sink.
 */
export async function otelComparison(repeats = 3): Promise<{ figures: OtelFigures[]; report: string }> {
  const sink = await startSink();
  const results: OtelFigures[] = [];
  try {
    for (const runtime of ['node', 'bun', 'deno'] as const) {
      results.push(...(await measureRuntime(runtime, sink, repeats)));
    }
  } finally {
    await sink.close();
  }
  const rows = [['runtime', 'OpenTelemetry', 'manifest GET req/s', 'vs off', 'p99 ms', 'server CPU µs/req', 'vs off', 'idle RSS MiB (once)', 'spans/s exported (whole run)']];
  for (const r of results) {
    const off = results.find((o) => o.runtime === r.runtime && o.mode === 'off')!;
    rows.push([
      r.runtime,
      r.mode,
      showSpread(r.manifestGet),
      `${((r.manifestGet.median / off.manifestGet.median - 1) * 100).toFixed(1)}%`,
      showSpread(r.p99ms, (n) => n.toFixed(2)),
      showSpread(r.cpuMicros, (n) => n.toFixed(1)),
      `${((r.cpuMicros.median / off.cpuMicros.median - 1) * 100).toFixed(1)}%`,
      (r.idleRss / MiB).toFixed(1),
      r.spansPerSecond.toFixed(0),
    ]);
  }
  return {
    figures: results,
    report: `OpenTelemetry: cost of tracing a cached manifest GET by tag (servers on core 0, wrk on core 1, the modes in turn; median (min–max) of ${repeats}, changes between medians; idle RSS is each server's one start, spans/s the count over the whole run)\n\n${table(rows)}`,
  };
}
