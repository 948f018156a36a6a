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
/** Spare batch buffers kept between appends; more concurrent appends than this allocate their own. */
const maxSpareBatches = 4;

/** Local disk: keys are paths under `root`; atomicity comes from rename(2) within one filesystem. */
export class FsDriver implements Driver {
  readonly name = 'fs';
  readonly root: string;
  readonly #tmp: string;
  /**
   * Batch buffers of finished appends, for the next ones: a fresh 1 MiB per append would be
   * garbage collected only after tens of MiB of it (a push of 1 MiB PATCHes).
   */
  readonly #batches: Uint8Array[] = [];

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
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      // write may write less than asked: write the rest from where it stopped.
      while (bytes.byteLength > 0) {
        const { bytesWritten } = await handle.write(bytes, 0, bytes.byteLength, position);
        position += bytesWritten;
        bytes = bytes.subarray(bytesWritten);
      }
    };
    let batch: Uint8Array | undefined;
    let filled = 0;
    try {
      for await (const chunk of body) {
        if (filled === 0 && chunk.byteLength >= writeBatch) {
          await writeAll(chunk); // already batch-sized (Deno's body reader): no copy
          continue;
        }
        // Small chunks are copied into a batch buffer at once, so a chunk is never held after the
        // next one is asked for: a body may hand out one reused buffer (runtimes/deno.ts).
        batch ??= this.#batches.pop() ?? new Uint8Array(writeBatch);
        for (let at = 0; at < chunk.byteLength; ) {
          const n = Math.min(writeBatch - filled, chunk.byteLength - at);
          batch.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === writeBatch) {
            await writeAll(batch);
            filled = 0;
          }
        }
      }
      if (batch && filled > 0) await writeAll(batch.subarray(0, filled));
      return position;
    } catch (e) {
      await handle.truncate(offset).catch(() => undefined);
      throw e;
    } finally {
      if (batch && this.#batches.length < maxSpareBatches) this.#batches.push(batch);
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
