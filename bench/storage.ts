import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createBucket, startS3, startS3Server } from '../test/support/s3.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { makeBlobFile } from './runtimes.ts';
import { cpuSeconds, curlGet, curlPut, median, serverCore, table } from './tools.ts';

const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
/** Tag PUTs per run: each writes three small objects (manifest bytes, link, tag), where a flush costs most. */
const tagPuts = 200;

interface StorageFigures {
  /** Blob PUT and GET, bytes per second (no PUT where the blob was pushed through another server). */
  put?: number;
  get: number;
  /** CPU seconds the server spent per blob GET. */
  getCpu: number;
  /** Manifest PUTs under new tags, per second, one at a time. */
  tagPuts?: number;
}

const repo = 'bench/storage';

async function push(server: TestServer, blob: { path: string; digest: string }): Promise<number> {
  const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
  const url = new URL(locate(server.url, session));
  url.searchParams.set('digest', blob.digest);
  return curlPut(url.toString(), blob.path);
}

/** GETs the blob `repeats` times (following a redirect to the store, if berth answers one): the median speed and berth's CPU per GET. */
async function pull(server: TestServer, blob: { digest: string }, repeats: number): Promise<{ get: number; getCpu: number }> {
  const gets: number[] = [];
  const cpuBefore = await cpuSeconds(server.process.pid!);
  for (let i = 0; i < repeats; i++) gets.push(await curlGet(`${server.url}/v2/${repo}/blobs/${blob.digest}`, { followRedirects: true }));
  return { get: median(gets), getCpu: ((await cpuSeconds(server.process.pid!)) - cpuBefore) / repeats };
}

/** One manifest PUT after another, each under a new tag: the small-write rate. */
async function tagRate(server: TestServer): Promise<number> {
  const repo = 'bench/tags';
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  await pushSmallBlob(server.url, repo, config, digest);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.byteLength },
      layers: [],
    }),
  );
  const headers = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
  const started = process.hrtime.bigint();
  for (let i = 0; i < tagPuts; i++) expectStatus(await send('PUT', `${server.url}/v2/${repo}/manifests/t${i}`, headers, manifest), 201, 'PUT manifest');
  return tagPuts / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function measure(server: TestServer, blob: { path: string; digest: string }, repeats: number): Promise<StorageFigures> {
  try {
    const put = await push(server, blob);
    return { put, ...(await pull(server, blob, repeats)), tagPuts: await tagRate(server) };
  } finally {
    await server.stop();
  }
}

/**
 * berth on Node with local disk (flushing every acknowledged write, the default, and not), and with
 * S3 (Ceph RGW from ../shared/s3, in memory on this same machine, so S3 figures include RGW's own
 * CPU): one PUT of `size` bytes, then GETs, then manifest PUTs one after another; then the same
 * blob's GETs through a berth with `storage.s3.redirect`, which curl follows to RGW.
 */
export async function storageComparison(size: number, repeats = 3): Promise<{ figures: Record<string, StorageFigures>; report: string }> {
  const file = await makeBlobFile(size);
  const s3 = await startS3();
  const results: Array<[string, StorageFigures]> = [];
  try {
    for (const [name, env] of [
      ['berth (node, fs)', quiet],
      ['berth (node, fs, fsync off)', { ...quiet, BERTH_STORAGE__FS__FSYNC: 'false' }],
    ] as const) {
      process.stderr.write(`  ${name}: push and pull\n`);
      results.push([name, await measure(await startServer({ wrap: serverCore, env }), file, repeats)]);
    }
    process.stderr.write('  berth (node, s3): push and pull\n');
    const bucket = await createBucket(s3, 'bench');
    results.push(['berth (node, s3)', await measure(await startS3Server(s3, bucket, { wrap: serverCore, env: quiet }), file, repeats)]);
    // The same blob in the same bucket, answered with a 307 that curl follows to RGW.
    process.stderr.write('  berth (node, s3, redirect): pull\n');
    const redirecting = await startS3Server(s3, bucket, { wrap: serverCore, env: quiet, storage: { redirect: { enabled: true } } });
    try {
      results.push(['berth (node, s3, redirect)', await pull(redirecting, file, repeats)]);
    } finally {
      await redirecting.stop();
    }
  } finally {
    await s3.stop();
    await rm(file.dir, { recursive: true, force: true });
  }
  const base = results[0]![1];
  const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
  const rate = (a: number | undefined, b: number | undefined, unit = 1e6): string => (a === undefined ? '—' : `${(a / unit).toFixed(0)} (${ratio(a, b)})`);
  const rows = [['server', `${size / MiB} MiB PUT MB/s`, `${size / MiB} MiB GET MB/s`, 'server CPU s per GET', 'manifest PUTs/s']];
  for (const [name, r] of results) {
    rows.push([name, rate(r.put, base.put), rate(r.get, base.get), r.getCpu.toFixed(2), rate(r.tagPuts, base.tagPuts, 1)]);
  }
  const off = results.find(([name]) => name.includes('fsync off'))?.[1];
  const cost = off
    ? `\nThe cost of storage.fs.fsync (on by default): blob PUT at ${ratio(base.put, off.put)} of its speed without it, manifest PUTs at ${ratio(base.tagPuts, off.tagPuts)}.`
    : '';
  const redirect = results.find(([name]) => name.includes('redirect'))?.[1];
  const streamed = results.find(([name]) => name === 'berth (node, s3)')?.[1];
  const out =
    redirect && streamed
      ? `\nstorage.s3.redirect: the GET is a 307 that curl follows to RGW, at ${ratio(redirect.get, streamed.get)} of the speed of streaming it through berth; berth's CPU per GET ${redirect.getCpu.toFixed(2)} s instead of ${streamed.getCpu.toFixed(2)} s.`
      : '';
  return {
    figures: Object.fromEntries(results),
    report: `Storage: local disk (flushed and not) vs S3 (Ceph RGW on the same machine; ratio to local disk in parentheses)\n\n${table(rows)}${cost}${out}`,
  };
}
