/**
 * The operator's view on S3: storage metrics per driver, `berth gc` deleting exactly the
 * unreferenced blob from the bucket, upload purge, and /readyz failing when the store goes away.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { blob, pushBlob, pushImage, repoName } from '../support/oci.ts';
import { createBucket, s3ConfigFile, s3Storage, startS3, type S3Server } from '../support/s3.ts';
import { startServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const cli = join(resolve(import.meta.dirname, '..', '..'), 'dist', 'runtimes', 'node.js');

describe('operations on S3', () => {
  let s3: S3Server;
  let bucket: string;
  let config: { file: string; remove(): Promise<void> };
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'ops');
    config = await s3ConfigFile(s3Storage(s3, bucket), { uploads: { purgeAfter: '1s' } });
    server = await startServer({ args: ['--config', config.file] });
    client = new Client(server.url);
  });
  afterAll(async () => {
    await server?.stop();
    await config?.remove();
    await s3?.stop();
  });

  const exists = async (digest: string): Promise<boolean> =>
    s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}` })).then(
      () => true,
      () => false,
    );

  it('counts storage operations under the s3 driver', async () => {
    await pushImage(client, repoName('metrics'), 'v1');
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/berth_storage_operation_duration_seconds_count\{driver="s3",operation="put"\} [1-9]/);
  });

  it('berth gc deletes exactly the unreferenced blob from the bucket', async () => {
    const repo = repoName('gc');
    const image = await pushImage(client, repo, 'v1');
    const orphan = await pushBlob(client, repo, blob(2048));
    const { stdout } = await run(process.execPath, [cli, 'gc', '--config', config.file, '--grace', '0s'], { env: { PATH: process.env.PATH ?? '' } });
    expect(stdout).toMatch(/deleted [1-9]\d* blobs/);
    expect(await exists(orphan)).toBe(false);
    expect(await exists(image.digest)).toBe(true);
    expect((await client.get(`/v2/${repo}/manifests/v1`)).status).toBe(200);
  });

  it('purges a stale upload session at start', async () => {
    const started = await client.request('POST', `/v2/${repoName('purge')}/blobs/uploads/`);
    const location = started.header('Location') ?? '';
    await server.stop();
    await new Promise((r) => setTimeout(r, 1200));
    server = await startServer({ args: ['--config', config.file] });
    client = new Client(server.url);
    await new Promise((r) => setTimeout(r, 500));
    expect((await client.get(location)).status).toBe(404);
  });

  it('/readyz fails once the store is unreachable while /healthz still answers', async () => {
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    await s3.stop();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/not ready/);
  });
});
