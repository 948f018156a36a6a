/**
 * Upload sessions live in storage, not in the process: a session started before a restart (clean
 * or SIGKILL) continues afterwards and commits under the right digest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { blob, digestOf, repoName } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { storeProblems } from '../support/store.ts';

let dataDir: string;
let server: TestServer;
let client: Client;

const chunk = 64 * 1024;
const octets = { 'Content-Type': 'application/octet-stream' };

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'berth-restart-'));
  server = await startServer({ dataDir });
  client = new Client(server.url);
});

afterAll(async () => {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function restart(signal: NodeJS.Signals): Promise<void> {
  await server.stop(signal);
  server = await startServer({ dataDir });
  client = new Client(server.url);
}

/** Starts a session and sends the first `count` chunks of `bytes`; returns the upload path. */
async function uploadChunks(repo: string, bytes: Buffer, count: number): Promise<string> {
  const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  expect(started.status).toBe(202);
  let location = started.header('Location') ?? '';
  for (let i = 0; i < count; i++) {
    const start = i * chunk;
    const res = await client.request('PATCH', location, {
      headers: { ...octets, 'Content-Range': `${start}-${start + chunk - 1}` },
      body: bytes.subarray(start, start + chunk),
    });
    expect(res.status, res.text()).toBe(202);
    location = res.header('Location') ?? '';
  }
  return new URL(location, client.base).pathname;
}

/** Asks where the session stands, sends the rest in one PATCH, closes it and reads the blob back. */
async function resumeAndFinish(repo: string, location: string, bytes: Buffer): Promise<number> {
  const status = await client.get(location);
  expect(status.status, status.text()).toBe(204);
  const range = /^0-(\d+)$/.exec(status.header('Range') ?? '');
  expect(range, status.header('Range')).not.toBeNull();
  const offset = Number(range?.[1]) + 1;

  const rest = await client.request('PATCH', location, {
    headers: { ...octets, 'Content-Range': `${offset}-${bytes.byteLength - 1}` },
    body: bytes.subarray(offset),
  });
  expect(rest.status, rest.text()).toBe(202);
  const digest = digestOf(bytes);
  const done = await client.request('PUT', `${new URL(rest.header('Location') ?? location, client.base).pathname}?digest=${digest}`);
  expect(done.status, done.text()).toBe(201);
  expect(done.header('Docker-Content-Digest')).toBe(digest);

  const read = await client.get(`/v2/${repo}/blobs/${digest}`);
  expect(read.status).toBe(200);
  expect(read.body.equals(bytes)).toBe(true);
  expect(await storeProblems(dataDir)).toEqual([]);
  return offset;
}

describe('upload sessions across restarts', () => {
  it('continues after a clean stop (SIGTERM)', async () => {
    const repo = repoName('restart');
    const bytes = blob(3 * chunk);
    const location = await uploadChunks(repo, bytes, 2);
    await restart('SIGTERM');
    expect(await resumeAndFinish(repo, location, bytes)).toBe(2 * chunk);
  });

  it('continues after SIGKILL in the middle of a chunk', async () => {
    const repo = repoName('killed');
    const bytes = blob(4 * chunk);
    const location = await uploadChunks(repo, bytes, 2);
    // The third chunk is half sent when the process dies.
    const third = bytes.subarray(2 * chunk, 3 * chunk);
    const inFlight = client.abandon('PATCH', location, third.subarray(0, chunk / 2), chunk, {
      ...octets,
      'Content-Range': `${2 * chunk}-${3 * chunk - 1}`,
    });
    await new Promise((r) => setTimeout(r, 100));
    await restart('SIGKILL');
    await inFlight;
    // Whatever of the cut chunk reached the disk is a prefix of it; the session says where to go on.
    const offset = await resumeAndFinish(repo, location, bytes);
    expect(offset).toBeGreaterThanOrEqual(2 * chunk);
    expect(offset).toBeLessThanOrEqual(2 * chunk + chunk / 2);
  });
});
