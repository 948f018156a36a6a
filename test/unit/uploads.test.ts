import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestBytes, type Algorithm, type Digest } from '../../src/oci/digest.ts';
import { layout } from '../../src/registry/layout.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import type { Chunk } from '../../src/registry/uploads.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';

const MiB = 1 << 20;
const repo = 'team/app';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const digestOf = (s: string | Uint8Array, algorithm: Algorithm = 'sha256'): Digest =>
  digestBytes(typeof s === 'string' ? utf8(s) : s, algorithm);

function chunk(...parts: Array<string | Uint8Array>): Chunk {
  return {
    body: new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(typeof p === 'string' ? utf8(p) : p);
        c.close();
      },
    }),
  };
}

/** A chunk whose body sends `parts` and then breaks off, like a client that goes away. */
function brokenChunk(...parts: Uint8Array[]): Chunk {
  let i = 0;
  return {
    body: new ReadableStream({
      pull(c) {
        const part = parts[i++];
        if (part) c.enqueue(part);
        else c.error(new Error('connection reset'));
      },
    }),
  };
}

const ociError = (code: string, status?: number) =>
  expect.objectContaining({ name: 'OciError', code, ...(status === undefined ? {} : { status }) });

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts).toString();
}

describe('upload sessions (Registry on FsDriver)', () => {
  let dir: string;
  let registry: StoredRegistry;

  const newRegistry = (): StoredRegistry => new StoredRegistry(new FsDriver(dir));

  /** Starts a session and appends its first bytes; returns the session id. */
  async function begin(first: string, algorithm: Algorithm = 'sha256'): Promise<string> {
    const { id } = await registry.uploads.start(repo, algorithm);
    await registry.uploads.append(repo, id, chunk(first));
    return id;
  }

  /** The blob is committed, linked into the repository and readable, and the session is gone. */
  async function expectCommitted(id: string, digest: Digest, content: string): Promise<void> {
    expect(await registry.blobs.find(repo, digest)).toEqual({ digest, size: Buffer.byteLength(content) });
    expect(await readAll(await registry.blobs.read(repo, digest))).toBe(content);
    await expect(registry.uploads.status(repo, id)).rejects.toThrow(ociError('BLOB_UPLOAD_UNKNOWN', 404));
    expect(await new FsDriver(dir).list(layout.uploads)).toEqual([]);
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-uploads-'));
    registry = newRegistry();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts, appends chunks, and finishes with the right digest', async () => {
    const session = await registry.uploads.start(repo, 'sha256');
    expect(session).toMatchObject({ name: repo, algorithm: 'sha256', offset: 0 });
    expect(await registry.uploads.status(repo, session.id)).toMatchObject({ offset: 0 });
    expect((await registry.uploads.append(repo, session.id, chunk('hello '))).offset).toBe(6);
    expect((await registry.uploads.append(repo, session.id, chunk('wor', 'ld'))).offset).toBe(11);
    expect(await registry.uploads.status(repo, session.id)).toMatchObject({ offset: 11 });
    const digest = digestOf('hello world');
    expect(await registry.uploads.finish(repo, session.id, digest)).toEqual({ digest, size: 11 });
    await expectCommitted(session.id, digest, 'hello world');
  });

  it('finishes with a last chunk, and finishes an empty blob', async () => {
    const id = await begin('first ');
    await registry.uploads.finish(repo, id, digestOf('first last'), chunk('last'));
    await expectCommitted(id, digestOf('first last'), 'first last');

    const empty = await registry.uploads.start(repo, 'sha256');
    expect(await registry.uploads.finish(repo, empty.id, digestOf(''))).toEqual({ digest: digestOf(''), size: 0 });
    await expectCommitted(empty.id, digestOf(''), '');
  });

  it('refuses a wrong digest: DIGEST_INVALID, the session is gone and nothing is committed', async () => {
    const id = await begin('hello');
    await expect(registry.uploads.finish(repo, id, digestOf('something else'))).rejects.toThrow(ociError('DIGEST_INVALID', 400));
    await expect(registry.uploads.status(repo, id)).rejects.toThrow(ociError('BLOB_UPLOAD_UNKNOWN'));
    expect(await new FsDriver(dir).list('blobs')).toEqual([]);
    expect(await new FsDriver(dir).list(layout.uploads)).toEqual([]);
    expect(await registry.blobs.find(repo, digestOf('hello'))).toBeUndefined();
  });

  it.each([
    ['a few bytes', [utf8('xxxx')]],
    ['more than a write batch', [new Uint8Array(MiB).fill(1), new Uint8Array(MiB).fill(2)]],
  ])('a chunk that breaks off after %s leaves the offset unchanged, and the session finishes correctly', async (_, parts) => {
    const id = await begin('hello ');
    await expect(registry.uploads.append(repo, id, brokenChunk(...parts))).rejects.toThrow(ociError('BLOB_UPLOAD_INVALID'));
    expect(await registry.uploads.status(repo, id)).toMatchObject({ offset: 6 });
    expect((await registry.uploads.append(repo, id, chunk('world'))).offset).toBe(11);
    await registry.uploads.finish(repo, id, digestOf('hello world'));
    await expectCommitted(id, digestOf('hello world'), 'hello world');
  });

  it('refuses a chunk that does not start at the offset (416 with the Range header) and keeps the session', async () => {
    const session = await registry.uploads.start(repo, 'sha256');
    await registry.uploads.append(repo, session.id, { ...chunk('0123'), range: { start: 0, end: 3 } });
    await expect(registry.uploads.append(repo, session.id, { ...chunk('89'), range: { start: 8, end: 9 } })).rejects.toThrow(
      expect.objectContaining({ name: 'OciError', status: 416, headers: { Range: '0-3' } }),
    );
    expect(await registry.uploads.status(repo, session.id)).toMatchObject({ offset: 4 });
    await registry.uploads.finish(repo, session.id, digestOf('012345'), { ...chunk('45'), range: { start: 4, end: 5 } });
    await expectCommitted(session.id, digestOf('012345'), '012345');
  });

  it('refuses a chunk whose length differs from the declared one, keeping the offset', async () => {
    const session = await registry.uploads.start(repo, 'sha256');
    await expect(registry.uploads.append(repo, session.id, { ...chunk('abc'), length: 5 })).rejects.toThrow(ociError('SIZE_INVALID'));
    await expect(registry.uploads.append(repo, session.id, { ...chunk('abcdef'), length: 5 })).rejects.toThrow(ociError('SIZE_INVALID'));
    expect(await registry.uploads.status(repo, session.id)).toMatchObject({ offset: 0 });
    await registry.uploads.finish(repo, session.id, digestOf('abc'), { ...chunk('abc'), length: 3 });
    await expectCommitted(session.id, digestOf('abc'), 'abc');
  });

  it('knows a session only in the repository that started it', async () => {
    const session = await registry.uploads.start(repo, 'sha256');
    await expect(registry.uploads.status('team/other', session.id)).rejects.toThrow(ociError('BLOB_UPLOAD_UNKNOWN', 404));
    await expect(registry.uploads.append('team/other', session.id, chunk('x'))).rejects.toThrow(ociError('BLOB_UPLOAD_UNKNOWN'));
    await expect(registry.uploads.status(repo, 'not-a-uuid')).rejects.toThrow(ociError('BLOB_UPLOAD_UNKNOWN'));
    expect(await registry.uploads.status(repo, session.id)).toMatchObject({ offset: 0 });
  });

  describe('a session continued by a second Registry on the same storage (no running hash there)', () => {
    it('takes the next chunks and finishes with the right digest', async () => {
      const id = await begin('hello ');
      const other = newRegistry();
      expect(await other.uploads.status(repo, id)).toMatchObject({ offset: 6, algorithm: 'sha256' });
      expect((await other.uploads.append(repo, id, chunk('world'))).offset).toBe(11);
      expect(await other.uploads.finish(repo, id, digestOf('hello world'))).toEqual({ digest: digestOf('hello world'), size: 11 });
      await expectCommitted(id, digestOf('hello world'), 'hello world');
    });

    it('finishes what the first one wrote, with a final chunk', async () => {
      const id = await begin('one ');
      await newRegistry().uploads.finish(repo, id, digestOf('one two'), chunk('two'));
      await expectCommitted(id, digestOf('one two'), 'one two');
    });

    it('does not trust the first one’s running hash once the second has appended', async () => {
      const id = await begin('a');
      await newRegistry().uploads.append(repo, id, chunk('b'));
      await registry.uploads.append(repo, id, chunk('c'));
      await registry.uploads.finish(repo, id, digestOf('abc'));
      await expectCommitted(id, digestOf('abc'), 'abc');
    });

    it('refuses a wrong digest there too', async () => {
      const id = await begin('hello');
      await expect(newRegistry().uploads.finish(repo, id, digestOf('hullo'))).rejects.toThrow(ociError('DIGEST_INVALID'));
      expect(await new FsDriver(dir).list('blobs')).toEqual([]);
    });
  });

  describe('sha512', () => {
    it('runs a sha512 session and stores the blob under its sha512 digest', async () => {
      const session = await registry.uploads.start(repo, 'sha512');
      expect(session.algorithm).toBe('sha512');
      await registry.uploads.append(repo, session.id, chunk('hello '));
      const digest = digestOf('hello world', 'sha512');
      expect(await registry.uploads.finish(repo, session.id, digest, chunk('world'))).toEqual({ digest, size: 11 });
      await expectCommitted(session.id, digest, 'hello world');
      expect(await new FsDriver(dir).stat(`blobs/sha512/${digest.hex.slice(0, 2)}/${digest.hex}`)).toMatchObject({ size: 11 });
    });

    it('refuses a wrong sha512 digest', async () => {
      const id = await begin('bytes', 'sha512');
      await expect(registry.uploads.finish(repo, id, digestOf('other bytes', 'sha512'))).rejects.toThrow(ociError('DIGEST_INVALID'));
    });

    it('finishes a session with a digest of another algorithm than it started with', async () => {
      const a = await begin('mixed');
      await registry.uploads.finish(repo, a, digestOf('mixed', 'sha512'));
      await expectCommitted(a, digestOf('mixed', 'sha512'), 'mixed');

      const b = await begin('other', 'sha512');
      await registry.uploads.finish(repo, b, digestOf('other', 'sha256'));
      await expectCommitted(b, digestOf('other', 'sha256'), 'other');
    });

    it('continues a sha512 session on a second Registry', async () => {
      const id = await begin('left ', 'sha512');
      const digest = digestOf('left right', 'sha512');
      await newRegistry().uploads.finish(repo, id, digest, chunk('right'));
      await expectCommitted(id, digest, 'left right');
    });
  });
});
