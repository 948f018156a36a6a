import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, type RuntimeName } from '../test/support/server.ts';
import { startDistribution } from './distribution.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { resetPeak, rss } from './rss.ts';
import { curlGet, curlPut, median, serverCore, table, wrk } from './tools.ts';

const run = promisify(execFile);
const MiB = 1024 ** 2;
const emptyDigest = `sha256:${createHash('sha256').digest('hex')}`;

export interface RuntimeFigures {
  runtime: RuntimeName | 'distribution';
  target: string;
  manifestByTag: number;
  manifestByTagP99: number;
  manifestByDigest: number;
  blobHead: number;
  blobGet: number;
  blobPut: number;
  putPeakOverIdle: number;
}

export interface Running {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts distribution, or berth on a runtime (local disk, no request log), pinned to the server core. */
export async function startTarget(target: RuntimeName | 'distribution'): Promise<Running> {
  if (target === 'distribution') {
    const d = await startDistribution(serverCore);
    return { name: 'distribution 2.8', url: d.url, pid: d.process.pid!, stop: () => d.stop() };
  }
  const s = await startServer({ runtime: target, wrap: serverCore, env: { BERTH_LOG__REQUESTS: 'false' } });
  return { name: `berth (${target})`, url: s.url, pid: s.process.pid!, stop: () => s.stop() };
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

/** Runs every runtime scenario against one server and returns its figures. */
async function measure(target: RuntimeName | 'distribution', blob: { path: string; digest: string; size: number }, repeats: number): Promise<RuntimeFigures> {
  const { size } = blob;
  const server = await startTarget(target);
  try {
    const repo = 'bench/runtime';
    process.stderr.write(`  ${server.name}: ${size / MiB} MiB PUT\n`);
    await new Promise((r) => setTimeout(r, 300));
    const idle = (await rss(server.pid)).current;
    await resetPeak(server.pid);
    const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
    const putUrl = new URL(locate(server.url, session));
    putUrl.searchParams.set('digest', blob.digest);
    const blobPut = await curlPut(putUrl.toString(), blob.path);
    const putPeakOverIdle = (await rss(server.pid)).peak - idle;

    const manifestDigest = await pushImage(server.url, repo, { digest: blob.digest, size: blob.size });
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    const rounds = <T>(f: () => Promise<T>): Promise<T[]> =>
      Array.from({ length: repeats }).reduce<Promise<T[]>>(async (acc) => [...(await acc), await f()], Promise.resolve([]));
    process.stderr.write(`  ${server.name}: manifest GET, blob HEAD (wrk)\n`);
    const byTag = await rounds(() => wrk(`${server.url}/v2/${repo}/manifests/bench`, { headers: accept }));
    const byDigest = await rounds(() => wrk(`${server.url}/v2/${repo}/manifests/${manifestDigest}`, { headers: accept }));
    // wrk reads a HEAD response's Content-Length as a body to wait for, so HEAD is measured on the
    // empty blob: the work (link and blob lookups, headers) does not depend on the blob's size.
    await pushSmallBlob(server.url, repo, Buffer.alloc(0), emptyDigest);
    const head = await rounds(() => wrk(`${server.url}/v2/${repo}/blobs/${emptyDigest}`, { method: 'HEAD' }));
    process.stderr.write(`  ${server.name}: ${size / MiB} MiB GET (curl)\n`);
    const get = await rounds(() => curlGet(`${server.url}/v2/${repo}/blobs/${blob.digest}`));
    return {
      runtime: target,
      target: server.name,
      manifestByTag: median(byTag.map((r) => r.requestsPerSecond)),
      manifestByTagP99: median(byTag.map((r) => r.p99ms)),
      manifestByDigest: median(byDigest.map((r) => r.requestsPerSecond)),
      blobHead: median(head.map((r) => r.requestsPerSecond)),
      blobGet: median(get),
      blobPut,
      putPeakOverIdle,
    };
  } finally {
    await server.stop();
  }
}

/** Berth on Node, Bun and Deno against CNCF distribution in one run: the figures, and a table of them. */
export async function runtimeComparison(size: number, repeats = 3): Promise<{ figures: RuntimeFigures[]; report: string }> {
  const file = await makeBlobFile(size);
  const blob = { ...file, size };
  const results: RuntimeFigures[] = [];
  try {
    for (const target of ['distribution', 'node', 'bun', 'deno'] as const) results.push(await measure(target, blob, repeats));
  } finally {
    await rm(file.dir, { recursive: true, force: true });
  }
  const base = results[0]!;
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(1)}×` : '-');
  const rows = [['server', 'manifest GET tag req/s', 'p99 ms', 'manifest GET digest req/s', 'blob HEAD req/s', `${size / MiB} MiB GET MB/s`, `${size / MiB} MiB PUT MB/s`, 'PUT peak RSS − idle MiB']];
  for (const r of results) {
    rows.push([
      r.target,
      `${r.manifestByTag.toFixed(0)} (${ratio(r.manifestByTag, base.manifestByTag)})`,
      r.manifestByTagP99.toFixed(2),
      `${r.manifestByDigest.toFixed(0)} (${ratio(r.manifestByDigest, base.manifestByDigest)})`,
      `${r.blobHead.toFixed(0)} (${ratio(r.blobHead, base.blobHead)})`,
      `${(r.blobGet / 1e6).toFixed(0)} (${ratio(r.blobGet, base.blobGet)})`,
      `${(r.blobPut / 1e6).toFixed(0)} (${ratio(r.blobPut, base.blobPut)})`,
      (r.putPeakOverIdle / MiB).toFixed(1),
    ]);
  }
  return { figures: results, report: `Runtimes (server on core 0, clients on core 1; medians of ${repeats}; ratio to distribution in parentheses)\n\n${table(rows)}` };
}
