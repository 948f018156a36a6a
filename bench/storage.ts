import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createBucket, startS3, startS3Server } from '../test/support/s3.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { makeBlobFile } from './runtimes.ts';
import { curlGet, curlPut, serverCore, showSpread, spread, table, type Spread } from './tools.ts';

const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
/** Tag PUTs per run: each writes three small objects (manifest bytes, link, tag), where a flush costs most. */
const tagPuts = 200;

interface StorageFigures {
  /** Blob PUT and GET, bytes per second. */
  put: Spread;
  get: Spread;
  /** Manifest PUTs under new tags, per second, one at a time. */
  tagPuts: Spread;
}

interface StorageRound {
  put: number;
  get: number;
  tagPuts: number;
}

async function pushAndPull(server: TestServer, blob: { path: string; digest: string }): Promise<{ put: number; get: number }> {
  const repo = 'bench/storage';
  const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
  const url = new URL(locate(server.url, session));
  url.searchParams.set('digest', blob.digest);
  const put = await curlPut(url.toString(), blob.path);
  return { put, get: await curlGet(`${server.url}/v2/${repo}/blobs/${blob.digest}`) };
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

/** One round on a fresh server (a new data directory or bucket): PUT, GET, tag PUTs. */
async function measure(server: TestServer, blob: { path: string; digest: string }): Promise<StorageRound> {
  try {
    return { ...(await pushAndPull(server, blob)), tagPuts: await tagRate(server) };
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
  const configs: Array<[string, () => Promise<TestServer>]> = [
    ['berth (node, fs)', () => startServer({ wrap: serverCore, env: quiet })],
    ['berth (node, fs, fsync off)', () => startServer({ wrap: serverCore, env: { ...quiet, BERTH_STORAGE__FS__FSYNC: 'false' } })],
    ['berth (node, s3)', async () => startS3Server(s3, await createBucket(s3, 'bench'), { wrap: serverCore, env: quiet })],
  ];
  const rounds = new Map<string, StorageRound[]>(configs.map(([name]) => [name, []]));
  try {
    for (let i = 0; i < repeats; i++) {
      for (const [name, start] of configs) {
        process.stderr.write(`  ${name}: push and pull (round ${i + 1} of ${repeats})\n`);
        rounds.get(name)!.push(await measure(await start(), file));
      }
    }
  } finally {
    await s3.stop();
    await rm(file.dir, { recursive: true, force: true });
  }
  const results = configs.map(([name]): [string, StorageFigures] => {
    const rs = rounds.get(name)!;
    return [name, { put: spread(rs.map((r) => r.put)), get: spread(rs.map((r) => r.get)), tagPuts: spread(rs.map((r) => r.tagPuts)) }];
  });
  const base = results[0]![1];
  const ratio = (a: Spread, b: Spread): string => `${(a.median / b.median).toFixed(2)}×`;
  const mb = (x: Spread): string => showSpread(x, (n) => (n / 1e6).toFixed(0));
  const rows = [['server', `${size / MiB} MiB PUT MB/s`, `${size / MiB} MiB GET MB/s`, 'manifest PUTs/s']];
  for (const [name, r] of results) {
    rows.push([
      name,
      `${mb(r.put)} ${ratio(r.put, base.put)}`,
      `${mb(r.get)} ${ratio(r.get, base.get)}`,
      `${showSpread(r.tagPuts)} ${ratio(r.tagPuts, base.tagPuts)}`,
    ]);
  }
  const off = results.find(([name]) => name.includes('fsync off'))?.[1];
  const cost = off
    ? `\nThe cost of storage.fs.fsync (on by default): blob PUT at ${ratio(base.put, off.put)} of its speed without it, manifest PUTs at ${ratio(base.tagPuts, off.tagPuts)}.`
    : '';
  return {
    figures: Object.fromEntries(results),
    report: `Storage: local disk (flushed and not) vs S3 (Ceph RGW on the same machine); ${repeats} rounds, a fresh server each: median (min–max), then the ratio of medians to local disk\n\n${table(rows)}${cost}`,
  };
}
