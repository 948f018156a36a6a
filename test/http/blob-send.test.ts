/**
 * Blob GETs of several read buffers' worth (the native paths read and send 1 MiB at a time, Node
 * through two buffers in turn): whole, in ranges across the buffer edges, and a client that leaves
 * mid-body, after which the server still answers and holds no file open for it.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { digestOf, pushBlob, repoName } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

const MiB = 1024 ** 2;
let server: TestServer;
let client: Client;
const repo = repoName('send');
// Three and a half buffers, so the last read is short and both buffers are reused.
const bytes = randomBytes(3.5 * MiB);
const digest = digestOf(bytes);
const path = `/v2/${repo}/blobs/${digest}`;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
  await pushBlob(client, repo, bytes);
});

afterAll(async () => {
  await server?.stop();
});

/** Files the server process holds open under its data directory (the blob being sent is one). */
async function openDataFiles(): Promise<number> {
  const fds = await readdir(`/proc/${server.process.pid}/fd`);
  let n = 0;
  for (const fd of fds) {
    const target = await readlink(`/proc/${server.process.pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(server.dataDir)) n++;
  }
  return n;
}

describe('blob GET over several read buffers', () => {
  it('sends the whole blob byte for byte', async () => {
    const res = await client.get(path);
    expect(res.status).toBe(200);
    expect(res.header('Content-Length')).toBe(String(bytes.length));
    expect(res.body.equals(bytes)).toBe(true);
  });

  it.each([
    [MiB - 10, 2 * MiB + 10],
    [1, bytes.length - 2],
    [3 * MiB, bytes.length - 1],
  ])('sends the range %i-%i across buffer edges', async (start, end) => {
    const res = await client.get(path, { Range: `bytes=${start}-${end}` });
    expect(res.status).toBe(206);
    expect(res.header('Content-Range')).toBe(`bytes ${start}-${end}/${bytes.length}`);
    expect(res.body.equals(bytes.subarray(start, end + 1))).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')('a client that leaves mid-body leaves no file open and the server answering', async () => {
    const before = await openDataFiles();
    const { hostname, port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`));
      let received = 0;
      socket.on('data', (d: Buffer) => {
        received += d.length;
        // Part of the body is in: leave without reading the rest.
        if (received > 256 * 1024) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
    });
    // The server notices the closed socket on its next write; give it until the file is closed.
    const deadline = Date.now() + 10_000;
    while ((await openDataFiles()) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await openDataFiles()).toBeLessThanOrEqual(before);
    const res = await client.get(path);
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
  });
});
