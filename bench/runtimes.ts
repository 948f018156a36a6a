import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { scriptRunner, startServer, type RuntimeName } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { resetPeak, rss } from './rss.ts';
import { clientCore, curlGet, curlPut, serverCore, showSpread, spread, table, wrk, type Spread } from './tools.ts';

const run = promisify(execFile);
const MiB = 1024 ** 2;
/** The chunk size of the chunked upload, as issue 15 asks (docker pushes in one request; containerd and others chunk). */
const patchChunk = 8 * MiB;
const emptyDigest = `sha256:${createHash('sha256').digest('hex')}`;

export interface RuntimeFigures {
  runtime: RuntimeName | 'distribution';
  target: string;
  /** Each figure over the rounds (one fresh server per round): median, min and max. */
  manifestByTag: Spread;
  manifestByTagP99: Spread;
  manifestByDigest: Spread;
  blobHead: Spread;
  /** The blob GET (bytes/s) right after the monolithic PUT wrote it, and again after the wrk loads and an idle wait. */
  blobGet: Spread;
  blobGetAfterIdle: Spread;
  /** Monolithic PUT and chunked PATCH upload (8 MiB chunks), bytes/s. */
  blobPut: Spread;
  blobPatch: Spread;
  putPeakOverIdle: Spread;
  /** RSS 300 ms after the server first answered, before any other request. */
  idleRss: Spread;
  /** From spawning the server to its first answer to `GET /v2/`, seconds. */
  startup: Spread;
  /** A bare server on the same runtime sending the same file the same way (bench/bare-file.ts), bytes/s; not for distribution. */
  ceiling?: Spread;
}

export interface Running {
  name: string;
  url: string;
  pid: number;
  /** Seconds from spawning to the first answer to `GET /v2/`. */
  startup: number;
  stop(): Promise<void>;
}

/** Starts distribution, or berth on a runtime (local disk, no request log), pinned to the server core. */
export async function startTarget(target: RuntimeName | 'distribution'): Promise<Running> {
  const spawned = performance.now();
  const answered = async (url: string): Promise<number> => {
    expectStatus(await send('GET', `${url}/v2/`), 200, 'GET /v2/');
    return (performance.now() - spawned) / 1000;
  };
  if (target === 'distribution') {
    const d = await startDistribution(serverCore);
    return { name: 'distribution 2.8', url: d.url, pid: d.process.pid!, startup: await answered(d.url), stop: () => d.stop() };
  }
  const s = await startServer({ runtime: target, wrap: serverCore, env: { BERTH_LOG__REQUESTS: 'false' } });
  return { name: `berth (${target})`, url: s.url, pid: s.process.pid!, startup: await answered(s.url), stop: () => s.stop() };
}

/** Starts bench/bare-file.ts on a runtime, pinned to the server core, serving `file`. */
async function startBareFile(runtime: RuntimeName, file: string): Promise<{ url: string; stop(): Promise<void> }> {
  const [bin, args] = scriptRunner(runtime);
  const script = join(import.meta.dirname, runtime === 'node' ? 'bare-file.js' : '../../bench/bare-file.ts');
  const child = spawn(serverCore[0]!, [...serverCore.slice(1), bin, ...args, script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const url = await new Promise<string>((ok, fail) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m?.[1]) ok(m[1]);
    });
    child.once('exit', (code) => fail(new Error(`bare file server on ${runtime} exited with ${code}: ${out}`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A chunked upload by bench/patch-client.ts in its own process on the client core; bytes/s. */
async function patchUpload(url: string, repo: string, blob: { path: string; digest: string; size: number }): Promise<number> {
  const script = join(import.meta.dirname, 'patch-client.js');
  const { stdout } = await run(clientCore[0]!, [...clientCore.slice(1), process.execPath, script, url, repo, blob.path, blob.digest, String(patchChunk)]);
  return blob.size / (JSON.parse(stdout) as { seconds: number }).seconds;
}

/** A blob file of `size` random bytes and its digest, made once per run. */
export async function makeBlobFile(size: number): Promise<{ path: string; digest: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  const path = join(dir, 'blob');
  await run('sh', ['-c', `head -c ${size} /dev/urandom > ${path}`]);
  const { stdout } = await run('sha256sum', [path]);
  return { path, digest: `sha256:${stdout.split(' ')[0]}`, dir };
}

/** Pushes a small image whose one layer is the big blob; returns the manifest digest. */
async function pushImage(url: string, repo: string, layer: { digest: string; size: number }): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  await pushSmallBlob(url, repo, config, configDigest);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  const put = expectStatus(
    await send('PUT', `${url}/v2/${repo}/manifests/bench`, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, manifest),
    201,
    'manifest push',
  );
  return String(put.headers['docker-content-digest']);
}

interface BlobFile {
  path: string;
  digest: string;
  size: number;
}

/** What one round measures on one server (figures before taking medians). */
type Round = { [K in Exclude<keyof RuntimeFigures, 'runtime' | 'target' | 'ceiling'>]: number } & { ceiling?: number };

/**
 * One round against a fresh server: start-up and idle RSS, a chunked upload of one blob, a
 * monolithic PUT of another (peak RSS), its GET right away, the wrk loads, then after an idle
 * wait the same GET again.
 */
async function measureRound(target: RuntimeName | 'distribution', blob: BlobFile, patchBlob: BlobFile, idleSeconds: number): Promise<Round> {
  const { size } = blob;
  const server = await startTarget(target);
  try {
    const repo = 'bench/runtime';
    await new Promise((r) => setTimeout(r, 300));
    const idleRss = (await rss(server.pid)).current;
    process.stderr.write(`  ${server.name}: ${size / MiB} MiB upload in ${patchChunk / MiB} MiB PATCHes\n`);
    const blobPatch = await patchUpload(server.url, repo, patchBlob);
    process.stderr.write(`  ${server.name}: ${size / MiB} MiB PUT, then GET\n`);
    await resetPeak(server.pid);
    const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
    const putUrl = new URL(locate(server.url, session));
    putUrl.searchParams.set('digest', blob.digest);
    const blobPut = await curlPut(putUrl.toString(), blob.path);
    const putPeakOverIdle = (await rss(server.pid)).peak - idleRss;
    const blobUrl = `${server.url}/v2/${repo}/blobs/${blob.digest}`;
    const blobGet = await curlGet(blobUrl);

    const manifestDigest = await pushImage(server.url, repo, { digest: blob.digest, size: blob.size });
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    process.stderr.write(`  ${server.name}: manifest GET, blob HEAD (wrk)\n`);
    const byTag = await wrk(`${server.url}/v2/${repo}/manifests/bench`, { headers: accept });
    const byDigest = await wrk(`${server.url}/v2/${repo}/manifests/${manifestDigest}`, { headers: accept });
    // wrk reads a HEAD response's Content-Length as a body to wait for, so HEAD is measured on the
    // empty blob: the work (link and blob lookups, headers) does not depend on the blob's size.
    await pushSmallBlob(server.url, repo, Buffer.alloc(0), emptyDigest);
    const head = await wrk(`${server.url}/v2/${repo}/blobs/${emptyDigest}`, { method: 'HEAD' });
    process.stderr.write(`  ${server.name}: ${idleSeconds} s idle, then GET\n`);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const blobGetAfterIdle = await curlGet(blobUrl);
    return {
      manifestByTag: byTag.requestsPerSecond,
      manifestByTagP99: byTag.p99ms,
      manifestByDigest: byDigest.requestsPerSecond,
      blobHead: head.requestsPerSecond,
      blobGet,
      blobGetAfterIdle,
      blobPut,
      blobPatch,
      putPeakOverIdle,
      idleRss,
      startup: server.startup,
    };
  } finally {
    await server.stop();
  }
}

/** The bare server's GET of the same file on a runtime (bench/bare-file.ts). */
async function measureCeiling(runtime: RuntimeName, blob: BlobFile): Promise<number> {
  process.stderr.write(`  bare ${runtime} server: ${blob.size / MiB} MiB GET\n`);
  const bare = await startBareFile(runtime, blob.path);
  try {
    return await curlGet(bare.url);
  } finally {
    await bare.stop();
  }
}

const targets = ['distribution', 'node', 'bun', 'deno'] as const;

/**
 * Berth on Node, Bun and Deno against CNCF distribution in one run: `repeats` rounds, each
 * running every server once in turn on a fresh data directory (so load drifting over the run falls
 * on all alike), and the bare ceiling server per runtime; medians with their ranges.
 */
export async function runtimeComparison(size: number, repeats = 3): Promise<{ figures: RuntimeFigures[]; report: string }> {
  const idleSeconds = Number(process.env.BENCH_IDLE ?? 10);
  const file = await makeBlobFile(size);
  const other = await makeBlobFile(size);
  const blob = { ...file, size };
  const patchBlob = { ...other, size };
  const rounds = new Map<(typeof targets)[number], Round[]>(targets.map((t) => [t, []]));
  try {
    for (let i = 0; i < repeats; i++) {
      process.stderr.write(`runtimes: round ${i + 1} of ${repeats}\n`);
      for (const target of targets) {
        const round = await measureRound(target, blob, patchBlob, idleSeconds);
        if (target !== 'distribution') round.ceiling = await measureCeiling(target, blob);
        rounds.get(target)!.push(round);
      }
    }
  } finally {
    await rm(file.dir, { recursive: true, force: true });
    await rm(other.dir, { recursive: true, force: true });
  }
  const results = targets.map((target): RuntimeFigures => {
    const rs = rounds.get(target)!;
    const of = (key: keyof Round): Spread => spread(rs.map((r) => r[key]).filter((v): v is number => v !== undefined));
    return {
      runtime: target,
      target: target === 'distribution' ? 'distribution 2.8' : `berth (${target})`,
      manifestByTag: of('manifestByTag'),
      manifestByTagP99: of('manifestByTagP99'),
      manifestByDigest: of('manifestByDigest'),
      blobHead: of('blobHead'),
      blobGet: of('blobGet'),
      blobGetAfterIdle: of('blobGetAfterIdle'),
      blobPut: of('blobPut'),
      blobPatch: of('blobPatch'),
      putPeakOverIdle: of('putPeakOverIdle'),
      idleRss: of('idleRss'),
      startup: of('startup'),
      ...(target === 'distribution' ? {} : { ceiling: of('ceiling') }),
    };
  });
  return { figures: results, report: runtimeReport(results, size, repeats, idleSeconds) };
}

const ratio = (a: Spread, b: Spread): string => (b.median > 0 ? `${(a.median / b.median).toFixed(2)}×` : '-');

function runtimeReport(results: RuntimeFigures[], size: number, repeats: number, idleSeconds: number): string {
  const base = results[0]!;
  const rate = (s: Spread, b: Spread | undefined): string => `${showSpread(s)}${b ? ` ${ratio(s, b)}` : ''}`;
  const mb = (s: Spread): Spread => ({ median: s.median / 1e6, min: s.min / 1e6, max: s.max / 1e6 });
  const mibs = (s: Spread): string => showSpread(s, (n) => (n / MiB).toFixed(1));
  const blob = `${size / MiB} MiB`;
  const requests = [['server', 'manifest GET tag req/s', 'p99 ms', 'manifest GET digest req/s', 'blob HEAD req/s']];
  const bytes = [['server', `${blob} GET after PUT MB/s`, `GET after ${idleSeconds} s idle MB/s`, 'bare server GET MB/s', `${blob} PUT MB/s`, `${patchChunk / MiB} MiB PATCHes MB/s`]];
  const memory = [['server', 'idle RSS MiB', 'PUT peak RSS − idle MiB', 'start-up to first answer s']];
  for (const r of results) {
    const b = r === base ? undefined : base;
    requests.push([r.target, rate(r.manifestByTag, b?.manifestByTag), showSpread(r.manifestByTagP99, (n) => n.toFixed(2)), rate(r.manifestByDigest, b?.manifestByDigest), rate(r.blobHead, b?.blobHead)]);
    bytes.push([
      r.target,
      rate(mb(r.blobGet), b && mb(b.blobGet)),
      rate(mb(r.blobGetAfterIdle), b && mb(b.blobGetAfterIdle)),
      r.ceiling ? `${showSpread(mb(r.ceiling))}; berth after PUT ÷ bare ${ratio(r.blobGet, r.ceiling)}` : '-',
      rate(mb(r.blobPut), b && mb(b.blobPut)),
      `${showSpread(mb(r.blobPatch))}, ${ratio(r.blobPatch, r.blobPut)} of its PUT`,
    ]);
    memory.push([r.target, mibs(r.idleRss), mibs(r.putPeakOverIdle), showSpread(r.startup, (n) => n.toFixed(2))]);
  }
  return [
    `Runtimes (server on core 0, clients on core 1; ${repeats} interleaved rounds, a fresh server each; median (min–max), then the ratio of medians to distribution's)`,
    '',
    table(requests),
    '',
    table(bytes),
    '',
    table(memory),
  ].join('\n');
}
