import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as later } from 'node:timers';
import type { ByteRange } from '../../oci/range.ts';
import type { Driver, ObjectInfo } from '../driver.ts';
import { conflict, StorageError } from '../errors.ts';
import { assertKey } from '../keys.ts';
import { fsError, isNotFound } from './errors.ts';
import { fileStream } from './file-stream.ts';

export interface FsOptions {
  /**
   * Flush every write to stable storage before it is acknowledged: the file's data, then the
   * directory entry of its rename. On by default; off trades durability on power loss for speed.
   */
  fsync?: boolean;
  /** Readiness fails below this many free bytes on the filesystem; 0 never. */
  minFreeSpace?: number;
}

const isDirectory = (e: unknown): boolean => typeof e === 'object' && e !== null && 'code' in e && e.code === 'EISDIR';

/** Writes are gathered into buffers of this size before reaching the disk: fewer syscalls per GiB. */
const writeBatch = 1 << 20;
/** Spare batch buffers kept between appends; more concurrent appends than this allocate their own. */
const maxSpareBatches = 4;
/**
 * A temporary file older than this is left over from a write that died with its process: a put
 * lasts milliseconds, while a younger file may belong to a write in flight here or in another
 * process on the same root (`berth gc` beside the server).
 */
const orphanAge = 60_000;

/**
 * Local disk: keys are paths under `root`. Writes go to a temporary file, are flushed, renamed into
 * place (atomic within one filesystem) and the directory is flushed, so an acknowledged write
 * survives power loss and a reader never sees half of one.
 */
export class FsDriver implements Driver {
  readonly name = 'fs';
  readonly root: string;
  readonly #tmp: string;
  readonly #fsync: boolean;
  readonly #minFreeSpace: number;
  /**
   * Batch buffers of finished appends, for the next ones: a fresh 1 MiB per append would be
   * garbage collected only after tens of MiB of it (a push of 1 MiB PATCHes).
   */
  readonly #batches: Uint8Array[] = [];

  constructor(root: string, opts: FsOptions = {}) {
    this.root = root;
    this.#tmp = join(root, '_tmp');
    this.#fsync = opts.fsync ?? true;
    this.#minFreeSpace = opts.minFreeSpace ?? 0;
  }

  #path(key: string): string {
    return join(this.root, assertKey(key));
  }

  localPath(key: string): string {
    return this.#path(key);
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const path = this.#path(key);
    try {
      return await readFile(path);
    } catch (e) {
      if (isNotFound(e) || isDirectory(e)) return undefined;
      throw fsError(e, `get ${key}`);
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.#path(key);
    const tmp = join(this.#tmp, randomUUID());
    try {
      await this.#writeFile(tmp, typeof body === 'string' ? new TextEncoder().encode(body) : body);
      await this.#moveInto(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw fsError(e, `put ${key}`);
    }
  }

  /** A new file holding `bytes`, flushed when fsync is on (and `flush` not false). */
  async #writeFile(path: string, bytes: Uint8Array, flush = this.#fsync): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'w');
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await mkdir(dirname(path), { recursive: true }); // _tmp removed under a running server
      handle = await open(path, 'w');
    }
    try {
      await handle.writeFile(bytes);
      if (flush) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Renames a flushed file into place, creating its directory if needed, and flushes the entry. */
  async #moveInto(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.#makeDirectory(dirname(to));
      await rename(from, to);
    }
    if (this.#fsync) await syncDirectory(dirname(to));
  }

  /** `mkdir -p`, flushing the entry of every directory it made, so they outlive a power loss too. */
  async #makeDirectory(dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (e) {
      // A recursive mkdir says ENOENT where the truth is EROFS or EACCES further up: ask again
      // one level at a time, so the error names the real reason.
      if (!isNotFound(e)) throw e;
      for (let at = dir; at !== this.root && at !== dirname(at); at = dirname(at)) {
        if (await exists(dirname(at))) {
          await mkdir(at);
          break;
        }
      }
      throw e;
    }
    if (!this.#fsync || first === undefined) return;
    // Each new directory's entry lives in its parent: flush from the first one's parent down.
    const made: string[] = [];
    for (let d = dir; d !== dirname(first); d = dirname(d)) made.push(dirname(d));
    for (const d of made.reverse()) await syncDirectory(d);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(key);
    try {
      const s = await stat(path);
      return s.isFile() ? { size: s.size, modified: s.mtime } : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw fsError(e, `stat ${key}`);
    }
  }

  async read(key: string, range?: ByteRange): Promise<ReadableStream<Uint8Array> | undefined> {
    const path = this.#path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw fsError(e, `read ${key}`);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return undefined;
      }
      const start = range?.start ?? 0;
      const end = range ? range.end + 1 : info.size;
      return fileStream(handle, start, end, `read ${key}`);
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw fsError(e, `read ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
      if (this.#fsync) await syncDirectory(dirname(path));
    } catch (e) {
      if (!isNotFound(e)) throw fsError(e, `delete ${key}`);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const path = this.#path(prefix);
    try {
      await rm(path, { recursive: true, force: true });
    } catch (e) {
      throw fsError(e, `delete ${prefix}/`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const path = this.#path(prefix);
    try {
      return (await readdir(path)).sort();
    } catch (e) {
      if (isNotFound(e)) return [];
      throw fsError(e, `list ${prefix}/`);
    }
  }

  async append(key: string, offset: number, body: AsyncIterable<Uint8Array>): Promise<number> {
    const path = this.#path(key);
    const what = `append to ${key}`;
    const handle = await this.#openAppendable(path, offset, what);
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw fsError(e, what);
    }
    if (size !== offset) {
      await handle.close().catch(() => undefined);
      throw conflict(what, offset, size);
    }
    let position = offset;
    // Only the disk's failures are storage errors; the body's (a client gone, a length that does
    // not match) leave as they came.
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      try {
        // write may write less than asked: write the rest from where it stopped.
        while (bytes.byteLength > 0) {
          const { bytesWritten } = await handle.write(bytes, 0, bytes.byteLength, position);
          position += bytesWritten;
          bytes = bytes.subarray(bytesWritten);
        }
      } catch (e) {
        throw fsError(e, what);
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
      // A full disk is the usual reason: giving back what this chunk took is what frees it.
      await handle.truncate(offset).catch(() => undefined);
      throw e;
    } finally {
      if (batch && this.#batches.length < maxSpareBatches) this.#batches.push(batch);
      await handle.close().catch(() => undefined);
    }
  }

  /** Opens for positioned writes without truncating; creates the object only when appending at 0. */
  async #openAppendable(path: string, offset: number, what: string): Promise<FileHandle> {
    try {
      return await open(path, 'r+');
    } catch (e) {
      if (!isNotFound(e)) throw fsError(e, what);
      // Nothing there: a conflict unless this is the first append (the object held 0 bytes).
      if (offset !== 0) throw conflict(what, offset, 0);
    }
    try {
      await this.#makeDirectory(dirname(path));
      return await open(path, 'w');
    } catch (e) {
      throw fsError(e, what);
    }
  }

  async commit(from: string, to: string, size?: number): Promise<void> {
    const source = this.#path(from);
    const target = this.#path(to);
    const what = `commit ${from} to ${to}`;
    try {
      if (size !== undefined || this.#fsync) {
        let handle: FileHandle;
        try {
          handle = await open(source, 'r');
        } catch (e) {
          if (isNotFound(e)) throw new StorageError('missing', `${what}: no such object`, { cause: e });
          throw e;
        }
        try {
          const actual = (await handle.stat()).size;
          if (size !== undefined && actual !== size) throw conflict(what, size, actual);
          // The appends wrote without flushing: the bytes reach the disk once, here.
          if (this.#fsync) await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      // Both paths hold verified, identical bytes if `to` exists; rename replaces atomically.
      await this.#moveInto(source, target);
    } catch (e) {
      throw fsError(e, what);
    }
  }

  /**
   * Creates the root and checks that it can be written, failing early with the OS's reason; then
   * removes what writes that died with an earlier process left behind: now, and once more when
   * those too young to judge at start (a crash just before a restart) are old enough.
   */
  async init(): Promise<void> {
    try {
      await mkdir(this.#tmp, { recursive: true });
    } catch (e) {
      throw fsError(e, `create ${this.root}`);
    }
    await this.#probe();
    await this.sweep();
    // node:timers' handle has unref on every runtime: this must never keep a process alive.
    later(() => void this.sweep().catch(() => undefined), orphanAge).unref();
  }

  /** Readiness: the root can be written, and free space is above the floor. */
  async check(): Promise<void> {
    await this.#probe();
    if (this.#minFreeSpace <= 0) return;
    let free: number;
    try {
      const s = await statfs(this.root);
      free = Number(s.bavail) * Number(s.bsize);
    } catch (e) {
      throw fsError(e, `statfs ${this.root}`);
    }
    if (free < this.#minFreeSpace) {
      throw new StorageError('full', `${free} bytes free on the filesystem of ${this.root}, below storage.fs.minFreeSpace (${this.#minFreeSpace})`, {
        reason: 'free space is below the configured minimum',
      });
    }
  }

  async #probe(): Promise<void> {
    const probe = join(this.#tmp, `probe-${randomUUID()}`);
    try {
      await this.#writeFile(probe, new Uint8Array(0), false);
      await unlink(probe);
    } catch (e) {
      await rm(probe, { force: true }).catch(() => undefined);
      const error = fsError(e, `write to ${this.root}`);
      // The root itself gone (or a file in its place) is an outage, not an object missing.
      if (error.kind !== 'missing') throw error;
      throw new StorageError('unavailable', error.message, { cause: e, reason: 'the storage directory is gone' });
    }
  }

  /** Removes temporary files left by writes that died (a crash, a kill); returns how many. */
  async sweep(): Promise<number> {
    const now = Date.now();
    let removed = 0;
    let names: string[];
    try {
      names = await readdir(this.#tmp);
    } catch (e) {
      if (isNotFound(e)) return 0;
      throw fsError(e, `list ${this.#tmp}`);
    }
    for (const name of names) {
      const path = join(this.#tmp, name);
      try {
        if (now - (await stat(path)).mtimeMs < orphanAge) continue;
        await rm(path, { recursive: true, force: true });
        removed++;
      } catch (e) {
        if (!isNotFound(e)) throw fsError(e, `remove ${path}`);
      }
    }
    return removed;
  }
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Flushes a directory's entries (a rename or unlink in it) to stable storage. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
