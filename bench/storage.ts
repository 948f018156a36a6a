import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createBucket, startS3, startS3Server } from '../test/support/s3.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { makeBlobFile } from './runtimes.ts';
import { curlGet, curlPut, median, serverCore, table } from './tools.ts';

const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
/** Tag PUTs per run: each writes three small objects (manifest bytes, link, tag), where a flush costs most. */
const tagPuts = 200;

interface StorageFigures {
  /** Blob PUT and GET, bytes per second. */
  put: number;
  get: number;
  /** Manifest PUTs under new tags, per second, one at a time. */
  tagPuts: number;
}

async function pushAndPull(server: TestServer, blob: { path: string; digest: string }, repeats: number): Promise<{ put: number; get: number }> {
  const repo = 'bench/storage';
  const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
  const url = new URL(locate(server.url, session));
  url.searchParams.set('digest', blob.digest);
  const put = await curlPut(url.toString(), blob.path);
  const gets: number[] = [];
  for (let i = 0; i < repeats; i++) gets.push(await curlGet(`${server.url}/v2/${repo}/blobs/${blob.digest}`));
  return { put, get: median(gets) };
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
    return { ...(await pushAndPull(server, blob, repeats)), tagPuts: await tagRate(server) };
  } finally {
    await server.stop();
  }
}

/**
 * berth on Node with local disk (flushing every acknowledged write, the default, and not), and with
 * S3 (Ceph RGW from ../shared/s3, in memory on this same machine, so S3 figures include RGW's own
 * CPU): one PUT of `size` bytes, then GETs, then manifest PUTs one after another.
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
    results.push(['berth (node, s3)', await measure(await startS3Server(s3, await createBucket(s3, 'bench'), { wrap: serverCore, env: quiet }), file, repeats)]);
  } finally {
    await s3.stop();
    await rm(file.dir, { recursive: true, force: true });
  }
  const base = results[0]![1];
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  const rows = [['server', `${size / MiB} MiB PUT MB/s`, `${size / MiB} MiB GET MB/s`, 'manifest PUTs/s']];
  for (const [name, r] of results) {
    rows.push([
      name,
      `${(r.put / 1e6).toFixed(0)} (${ratio(r.put, base.put)})`,
      `${(r.get / 1e6).toFixed(0)} (${ratio(r.get, base.get)})`,
      `${r.tagPuts.toFixed(0)} (${ratio(r.tagPuts, base.tagPuts)})`,
    ]);
  }
  const off = results.find(([name]) => name.includes('fsync off'))?.[1];
  const cost = off
    ? `\nThe cost of storage.fs.fsync (on by default): blob PUT at ${ratio(base.put, off.put)} of its speed without it, manifest PUTs at ${ratio(base.tagPuts, off.tagPuts)}.`
    : '';
  return {
    figures: Object.fromEntries(results),
    report: `Storage: local disk (flushed and not) vs S3 (Ceph RGW on the same machine; ratio to local disk in parentheses)\n\n${table(rows)}${cost}`,
  };
}
