import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createBucket, startS3, startS3Server } from '../test/support/s3.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, locate, pushSmallBlob, send } from './http.ts';
import { makeBlobFile } from './runtimes.ts';
import { cpuSeconds, curlGet, curlPut, serverCore, showSpread, spread, table, type Spread } from './tools.ts';

const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };
/** Tag PUTs per run: each writes three small objects (manifest bytes, link, tag), where a flush costs most. */
const tagPuts = 200;
const repo = 'bench/storage';

interface StorageFigures {
  /** Blob PUT and GET, bytes per second (no PUT where the blob was pushed through another server). */
  put?: Spread;
  get: Spread;
  /** CPU seconds the server spent per blob GET. */
  getCpu: Spread;
  /** Manifest PUTs under new tags, per second, one at a time. */
  tagPuts?: Spread;
}

interface StorageRound {
  put?: number;
  get: number;
  getCpu: number;
  tagPuts?: number;
}

async function push(server: TestServer, blob: { path: string; digest: string }): Promise<number> {
  const session = expectStatus(await send('POST', `${server.url}/v2/${repo}/blobs/uploads/`), 202, 'POST');
  const url = new URL(locate(server.url, session));
  url.searchParams.set('digest', blob.digest);
  return curlPut(url.toString(), blob.path);
}

/** GETs the blob (following a redirect to the store, if berth answers one): its speed and berth's CPU for it. */
async function pull(server: TestServer, blob: { digest: string }): Promise<{ get: number; getCpu: number }> {
  const cpuBefore = await cpuSeconds(server.process.pid!);
  const get = await curlGet(`${server.url}/v2/${repo}/blobs/${blob.digest}`, { followRedirects: true });
  return { get, getCpu: (await cpuSeconds(server.process.pid!)) - cpuBefore };
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
    const put = await push(server, blob);
    return { put, ...(await pull(server, blob)), tagPuts: await tagRate(server) };
  } finally {
    await server.stop();
  }
}

/** Only the GET, on a server over storage that already holds the blob. */
async function measurePull(server: TestServer, blob: { digest: string }): Promise<StorageRound> {
  try {
    return await pull(server, blob);
  } finally {
    await server.stop();
  }
}

const spreadOf = (rs: StorageRound[], key: keyof StorageRound): Spread | undefined => {
  const xs = rs.flatMap((r) => (r[key] === undefined ? [] : [r[key]]));
  return xs.length === 0 ? undefined : spread(xs);
};

/**
 * berth on Node with local disk (flushing every acknowledged write, the default, and not), and with
 * S3 (Ceph RGW from ../shared/s3, in memory on this same machine, so S3 figures include RGW's own
 * CPU): one PUT of `size` bytes, then a GET, then manifest PUTs one after another; and the same blob
 * from S3 answered with a 307 that curl follows to RGW (storage.s3.redirect).
 */
export async function storageComparison(size: number, repeats = 3): Promise<{ figures: Record<string, StorageFigures>; report: string }> {
  const file = await makeBlobFile(size);
  const s3 = await startS3();
  let bucket = '';
  const configs: Array<[string, () => Promise<StorageRound>]> = [
    ['berth (node, fs)', async () => measure(await startServer({ wrap: serverCore, env: quiet }), file)],
    ['berth (node, fs, fsync off)', async () => measure(await startServer({ wrap: serverCore, env: { ...quiet, BERTH_STORAGE__FS__FSYNC: 'false' } }), file)],
    ['berth (node, s3)', async () => measure(await startS3Server(s3, (bucket = await createBucket(s3, 'bench')), { wrap: serverCore, env: quiet }), file)],
    // The blob the round before pushed to that bucket.
    ['berth (node, s3, redirect)', async () => measurePull(await startS3Server(s3, bucket, { wrap: serverCore, env: quiet, storage: { redirect: { enabled: true } } }), file)],
  ];
  const rounds = new Map<string, StorageRound[]>(configs.map(([name]) => [name, []]));
  try {
    for (let i = 0; i < repeats; i++) {
      for (const [name, run] of configs) {
        process.stderr.write(`  ${name}: push and pull (round ${i + 1} of ${repeats})\n`);
        rounds.get(name)!.push(await run());
      }
    }
  } finally {
    await s3.stop();
    await rm(file.dir, { recursive: true, force: true });
  }
  const results = configs.map(([name]): [string, StorageFigures] => {
    const rs = rounds.get(name)!;
    const put = spreadOf(rs, 'put');
    const tags = spreadOf(rs, 'tagPuts');
    return [name, { ...(put ? { put } : {}), get: spreadOf(rs, 'get')!, getCpu: spreadOf(rs, 'getCpu')!, ...(tags ? { tagPuts: tags } : {}) }];
  });
  const base = results[0]![1];
  const ratio = (a: Spread | undefined, b: Spread | undefined): string => (a === undefined || b === undefined ? '—' : `${(a.median / b.median).toFixed(2)}×`);
  const show = (x: Spread | undefined, b: Spread | undefined, format?: (n: number) => string): string => (x === undefined ? '—' : `${showSpread(x, format)} ${ratio(x, b)}`);
  const mb = (n: number): string => (n / 1e6).toFixed(0);
  const rows = [['server', `${size / MiB} MiB PUT MB/s`, `${size / MiB} MiB GET MB/s`, 'server CPU s per GET', 'manifest PUTs/s']];
  for (const [name, r] of results) {
    rows.push([name, show(r.put, base.put, mb), show(r.get, base.get, mb), showSpread(r.getCpu, (n) => n.toFixed(2)), show(r.tagPuts, base.tagPuts)]);
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
