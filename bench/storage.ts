import { rm } from 'node:fs/promises';
import { createBucket, startS3, startS3Server } from '../test/support/s3.ts';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, locate, send } from './http.ts';
import { makeBlobFile } from './runtimes.ts';
import { curlGet, curlPut, median, serverCore, table } from './tools.ts';

const MiB = 1024 ** 2;
const quiet = { BERTH_LOG__REQUESTS: 'false' };

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

/**
 * berth on Node with local disk and with S3 (Ceph RGW from ../shared/s3, in memory on this same
 * machine, so S3 figures include RGW's own CPU): one PUT of `size` bytes, then GETs.
 */
export async function storageComparison(size: number, repeats = 3): Promise<{ figures: Record<string, { put: number; get: number }>; report: string }> {
  const file = await makeBlobFile(size);
  const s3 = await startS3();
  const results: Array<[string, { put: number; get: number }]> = [];
  try {
    const fs = await startServer({ wrap: serverCore, env: quiet });
    process.stderr.write('  berth (node, fs): push and pull\n');
    try {
      results.push(['berth (node, fs)', await pushAndPull(fs, file, repeats)]);
    } finally {
      await fs.stop();
    }
    const onS3 = await startS3Server(s3, await createBucket(s3, 'bench'), { wrap: serverCore, env: quiet });
    process.stderr.write('  berth (node, s3): push and pull\n');
    try {
      results.push(['berth (node, s3)', await pushAndPull(onS3, file, repeats)]);
    } finally {
      await onS3.stop();
    }
  } finally {
    await s3.stop();
    await rm(file.dir, { recursive: true, force: true });
  }
  const base = results[0]![1];
  const rows = [['server', `${size / MiB} MiB PUT MB/s`, `${size / MiB} MiB GET MB/s`]];
  for (const [name, r] of results) {
    rows.push([name, `${(r.put / 1e6).toFixed(0)} (${(r.put / base.put).toFixed(2)}×)`, `${(r.get / 1e6).toFixed(0)} (${(r.get / base.get).toFixed(2)}×)`]);
  }
  return {
    figures: Object.fromEntries(results),
    report: `Storage: local disk vs S3 (Ceph RGW on the same machine; ratio to local disk in parentheses)\n\n${table(rows)}`,
  };
}
