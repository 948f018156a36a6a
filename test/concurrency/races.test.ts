/**
 * Requests that race for the same thing, repeated: the same blob pushed by 8 clients at once, two
 * PATCHes at one offset of one upload, 8 manifest PUTs for one tag. Each round ends with the store
 * checked object by object.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStorage } from '../support/storage.ts';
import { storeProblemsIn } from '../support/store.ts';
import { ensureBlob, ociManifest, pullProblems, sha256 } from './client.ts';
import { startStack, type Stack } from './stack.ts';

/** Each race is run this many times over; fewer on S3, where a round costs seconds. */
const rounds = testStorage === 's3' ? 3 : 5;

describe('racing requests', () => {
  let stack: Stack;
  let url: string;
  beforeAll(async () => {
    stack = await startStack({ log: { requests: false } });
    url = stack.server.url;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const consistent = async (): Promise<void> => {
    const problems = await storeProblemsIn(stack.store);
    expect(problems, problems.join('\n')).toEqual([]);
  };

  /** One client's whole push of `bytes`: POST, then PUT to the Location (or PATCHes in `chunk`s, then PUT). */
  async function pushOnce(repo: string, bytes: Uint8Array<ArrayBuffer>, chunk?: number): Promise<number> {
    const digest = sha256(bytes);
    const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) return start.status;
    let location = new URL(start.headers.get('location') ?? '', url);
    for (let at = 0; chunk !== undefined && at < bytes.byteLength; at += chunk) {
      const piece = bytes.subarray(at, Math.min(at + chunk, bytes.byteLength));
      const patch = await fetch(location, {
        method: 'PATCH',
        body: piece,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${at + piece.byteLength - 1}` },
      });
      if (patch.status !== 202) return patch.status;
      location = new URL(patch.headers.get('location') ?? '', url);
    }
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: chunk === undefined ? bytes : new Uint8Array(0), headers: { 'Content-Type': 'application/octet-stream' } });
    await put.arrayBuffer();
    return put.status;
  }

  async function expectBlob(repo: string, bytes: Uint8Array): Promise<void> {
    const res = await fetch(`${url}/v2/${repo}/blobs/${sha256(bytes)}`);
    const body = new Uint8Array(await res.arrayBuffer());
    expect({ status: res.status, digest: sha256(body) }).toEqual({ status: 200, digest: sha256(bytes) });
  }

  it('the same blob pushed by 8 clients at once: every push is acknowledged, the blob is whole, once', async () => {
    // Larger than one S3 part (8 MiB), so each client's upload has parts of its own to commit.
    const size = stack.storage === 's3' ? (9 << 20) + 123 : (3 << 20) + 123;
    for (let round = 0; round < rounds; round++) {
      const bytes = randomBytes(size);
      // Half the clients in one PUT, half in PATCHes; into one repository and into another.
      const statuses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => pushOnce(i % 4 === 0 ? 'same/other' : 'same/blob', bytes, i % 2 === 0 ? undefined : 1 << 20)),
      );
      expect(statuses).toEqual(Array(8).fill(201));
      await expectBlob('same/blob', bytes);
      await expectBlob('same/other', bytes);
    }
    // No upload session outlives its PUT, and nothing stored is half-written.
    expect(await stack.store.keys('_uploads')).toEqual([]);
    await consistent();
  });

  it('two PATCHes at one offset of one upload: one gets 202, the other 416, and the blob is the winner’s', async () => {
    for (let round = 0; round < rounds * 2; round++) {
      const repo = 'race/patch';
      const first = randomBytes(64 << 10);
      const rivals = [randomBytes(256 << 10), randomBytes(256 << 10)];
      const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      let location = new URL(start.headers.get('location') ?? '', url);
      const opening = await fetch(location, { method: 'PATCH', body: first, headers: { 'Content-Range': `0-${first.byteLength - 1}` } });
      expect(opening.status).toBe(202);
      location = new URL(opening.headers.get('location') ?? '', url);

      const at = first.byteLength;
      const replies = await Promise.all(
        rivals.map((bytes) =>
          fetch(location, {
            method: 'PATCH',
            body: bytes,
            headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${at + bytes.byteLength - 1}` },
          }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect([...statuses].sort()).toEqual([202, 416]);
      const winner = rivals[statuses.indexOf(202)]!;
      const loser = replies[statuses.indexOf(416)]!;
      // The loser is told where the upload really stands, so it can ask and resume.
      expect(loser.headers.get('range')).toBe(`0-${at + winner.byteLength - 1}`);
      await Promise.all(replies.map((r) => r.arrayBuffer()));
      const status = await fetch(location);
      expect(status.headers.get('range')).toBe(`0-${at + winner.byteLength - 1}`);

      const whole = Buffer.concat([first, winner]);
      const done = new URL(location);
      done.searchParams.set('digest', sha256(whole));
      const put = await fetch(done, { method: 'PUT' });
      expect(put.status, await put.text()).toBe(201);
      await expectBlob(repo, whole);
    }
    await consistent();
  });

  it('8 manifest PUTs for one tag: all acknowledged, the tag ends on one of them, nothing dangles', async () => {
    const repo = 'race/tag';
    for (let round = 0; round < rounds; round++) {
      const layer = randomBytes(4096);
      expect(await ensureBlob(url, repo, layer)).toBeUndefined();
      const manifests: Uint8Array<ArrayBuffer>[] = [];
      for (let i = 0; i < 8; i++) {
        const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', round, i }));
        expect(await ensureBlob(url, repo, config)).toBeUndefined();
        manifests.push(
          new TextEncoder().encode(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: ociManifest,
              config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength },
              layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.byteLength }],
            }),
          ),
        );
      }
      const replies = await Promise.all(
        manifests.map((m) => fetch(`${url}/v2/${repo}/manifests/latest`, { method: 'PUT', body: m, headers: { 'Content-Type': ociManifest } })),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(8).fill(201));
      const digests = manifests.map(sha256);
      const tag = await fetch(`${url}/v2/${repo}/manifests/latest`, { headers: { Accept: ociManifest } });
      const landed = sha256(new Uint8Array(await tag.arrayBuffer()));
      expect(digests).toContain(landed);
      expect(tag.headers.get('docker-content-digest')).toBe(landed);
      // Every PUT was acknowledged, so every manifest stays pullable by digest, whole.
      for (const digest of digests) expect(await pullProblems(url, repo, digest, digest)).toEqual([]);
      const tags = (await (await fetch(`${url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).toEqual(['latest']);
    }
    await consistent();
  });
});
