/**
 * A blob HEAD that says 200 lets a client skip its upload, so it must be what the disk holds at
 * that moment: the server asks the filesystem on every HEAD (on the loop, while the filesystem
 * answers fast: src/storage/fs/stat.ts) and remembers nothing between them. Here the bytes and the
 * link are removed and put back behind the server's back, as `berth gc` in another process or an
 * operator would, and each HEAD right after sees it.
 */
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { blob, digestOf, expectError, hexOf, pushBlob, repoName } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: Client;
const repo = repoName('head');
const bytes = blob(1000);
const digest = digestOf(bytes);
const hex = hexOf(bytes);
const path = `/v2/${repo}/blobs/${digest}`;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
  await pushBlob(client, repo, bytes);
});

afterAll(async () => {
  await server?.stop();
});

/** Moves a stored file aside (as gc removes it) and returns how to put it back. */
async function moveAside(file: string): Promise<() => Promise<void>> {
  const aside = `${file}.aside`;
  await rename(file, aside);
  return async () => {
    await mkdir(dirname(file), { recursive: true });
    await rename(aside, file);
  };
}

async function expectHead(status: number): Promise<void> {
  const res = await client.head(path);
  expect(res.status).toBe(status);
  expect(res.body.byteLength).toBe(0);
  expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
}

describe('blob HEAD', () => {
  it('answers 200 with every header of the blob', async () => {
    const res = await client.head(path);
    expect(res.status).toBe(200);
    expect(res.body.byteLength).toBe(0);
    expect(res.header('Content-Length')).toBe('1000');
    expect(res.header('Docker-Content-Digest')).toBe(digest);
    expect(res.header('Content-Type')).toBe('application/octet-stream');
    expect(res.header('ETag')).toBe(`"${digest}"`);
    expect(res.header('Accept-Ranges')).toBe('bytes');
    expect(res.header('Cache-Control')).toBe('max-age=31536000, immutable');
    expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
  });

  it('is 404 as soon as the bytes are gone from disk, and 200 again once they are back', async () => {
    await expectHead(200);
    const restore = await moveAside(join(server.dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex));
    await expectHead(404);
    expectError(await client.get(path), 404, 'BLOB_UNKNOWN');
    await restore();
    await expectHead(200);
  });

  it("is 404 as soon as the repository's link is gone, and 200 again once it is back", async () => {
    await expectHead(200);
    const restore = await moveAside(join(server.dataDir, 'repositories', repo, '_blobs', 'sha256', hex));
    await expectHead(404);
    await restore();
    await expectHead(200);
  });

  it('sees a change between HEADs that arrive together', async () => {
    const heads = async (): Promise<number[]> => (await Promise.all(Array.from({ length: 16 }, () => client.head(path)))).map((r) => r.status);
    expect(new Set(await heads())).toEqual(new Set([200]));
    const restore = await moveAside(join(server.dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex));
    expect(new Set(await heads())).toEqual(new Set([404]));
    await restore();
    expect(new Set(await heads())).toEqual(new Set([200]));
  });
});
