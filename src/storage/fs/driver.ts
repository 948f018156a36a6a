import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ByteRange } from '../../oci/range.ts';
import type { Driver, ObjectInfo } from '../driver.ts';
import { assertKey } from '../keys.ts';
import { fileStream } from './file-stream.ts';

const isNotFound = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && 'code' in e && (e.code === 'ENOENT' || e.code === 'ENOTDIR');

/** Writes are gathered into buffers of this size before reaching the disk: fewer syscalls per GiB. */
const writeBatch = 1 << 20;

/** Local disk: keys are paths under `root`; atomicity comes from rename(2) within one filesystem. */
export class FsDriver implements Driver {
  readonly name = 'fs';
  readonly root: string;
  readonly #tmp: string;

  constructor(root: string) {
    this.root = root;
    this.#tmp = join(root, '_tmp');
  }

  #path(key: string): string {
    return join(this.root, assertKey(key));
  }

  localPath(key: string): string {
    return this.#path(key);
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    try {
      return await readFile(this.#path(key));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.#path(key);
    await mkdir(this.#tmp, { recursive: true });
    const tmp = join(this.#tmp, randomUUID());
    try {
      await writeFile(tmp, body);
      await this.#renameInto(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async #renameInto(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.#path(key));
      return s.isFile() ? { size: s.size, modified: s.mtime } : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array> | undefined> {
    let handle;
    try {
      handle = await open(this.#path(key), 'r');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : (await handle.stat()).size;
    return fileStream(handle, start, end);
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#path(key));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.#path(prefix), { recursive: true, force: true });
  }

  async list(prefix: string): Promise<string[]> {
    try {
      return (await readdir(this.#path(prefix))).sort();
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  async append(key: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<number> {
    const path = this.#path(key);
    const handle = await this.#openAppendable(path, offset);
    const { size } = await handle.stat();
    if (size !== offset) {
      await handle.close();
      throw new Error(`append at ${offset} to ${key}, which holds ${size} bytes`);
    }
    let position = offset;
    try {
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        // writev may write less than asked: write the rest from where it stopped.
        let buffer = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        while (buffer.byteLength > 0) {
          const { bytesWritten } = await handle.write(buffer, 0, buffer.byteLength, position);
          position += bytesWritten;
          buffer = buffer.subarray(bytesWritten);
        }
      };
      for await (const chunk of body) {
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= writeBatch) await flush();
      }
      await flush();
      return position;
    } catch (e) {
      await handle.truncate(offset).catch(() => undefined);
      throw e;
    } finally {
      await handle.close();
    }
  }

  /** Opens for positioned writes without truncating; creates the object only when appending at 0. */
  async #openAppendable(path: string, offset: number) {
    try {
      return await open(path, 'r+');
    } catch (e) {
      if (!isNotFound(e) || offset !== 0) throw e;
      await mkdir(dirname(path), { recursive: true });
      return open(path, 'w');
    }
  }

  async commit(from: string, to: string): Promise<void> {
    // Both paths hold verified, identical bytes if `to` exists; rename replaces atomically.
    await this.#renameInto(this.#path(from), this.#path(to));
  }

  /** Creates the root; fails early with the OS's reason when it cannot be written. */
  async init(): Promise<void> {
    await mkdir(this.#tmp, { recursive: true });
    const probe = join(this.#tmp, `probe-${randomUUID()}`);
    await writeFile(probe, '');
    await unlink(probe);
  }
}
