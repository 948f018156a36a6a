import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as later } from 'node:timers';
import type { ByteRange } from '../../oci/range.ts';
import type { StatSync } from '../../runtime/contract.ts';
import type { CommitOptions, Driver, ObjectInfo } from '../driver.ts';
import { conflict, StorageError } from '../errors.ts';
import { assertKey } from '../keys.ts';
import { DurableFiles } from './durable.ts';
import { fsError, isNotFound } from './errors.ts';
import { fileStream } from './file-stream.ts';
import { StatCalls } from './stat.ts';
import { freeSpace, sweepOlderThan } from './upkeep.ts';
import { Writeback } from './writeback.ts';

export interface FsDriverOptions {
  /**
   * Flush every write to stable storage before it is acknowledged: the file's data, then the
   * directory entry of its rename. On by default; off trades durability on power loss for speed.
   */
  fsync?: boolean;
  /** Readiness fails below this many free bytes on the filesystem; 0 never. */
  minFreeSpace?: number;
  /**
   * The runtime's own synchronous stat (src/runtime/contract.ts), for every stat while the
   * filesystem answers from memory (stat.ts): on Deno a tenth of the CPU of node:fs's async stat.
   */
  statSync?: StatSync | undefined;
}

const isDirectory = (e: unknown): boolean => typeof e === 'object' && e !== null && 'code' in e && e.code === 'EISDIR';

/**
 * Writes are gathered into buffers of this size before reaching the disk: fewer syscalls per GiB.
 * Not larger: with 1 MiB writes the kernel's copy into the page cache (copy_folio_from_iter_atomic)
 * took ~13× the CPU it takes at 256 KiB (perf, 1 GiB PUT on Node: ~650 samples against ~50 at
 * 499 Hz), and the server's CPU per GiB fell from ~3.5 s to ~2.5 s. Why is not settled (large
 * page-cache folios on this VM, likely); bench/README.md has the measurement.
 */
const writeBatch = 256 * 1024;
/**
 * With fsync on, an append flushes in the background each time this much more has been written
 * (writeback.ts), so the commit's flush finds at most about this much left.
 */
const flushEvery = 32 * 1024 * 1024;
/**
 * An append starts by flushing what earlier appends left unflushed, when it is at least this much:
 * chunked uploads (8 MiB PATCHes) flush each chunk while the next arrives; tiny ones are not
 * flushed every time.
 */
const flushCarried = 4 * 1024 * 1024;
/** Objects whose unflushed byte counts are kept between appends (the oldest forgotten: it is only a hint). */
const maxUnflushed = 1024;
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
 * place (atomic within one filesystem) and the directory is flushed (durable.ts), so an acknowledged write
 * survives power loss and a reader never sees half of one.
 */
export class FsDriver implements Driver {
  readonly name = 'fs';
  readonly root: string;
  readonly #tmp: string;
  readonly #fsync: boolean;
  readonly #files: DurableFiles;
  readonly #minFreeSpace: number;
  /**
   * Batch buffers of finished appends, for the next ones: a fresh batch per append would be
   * garbage collected only after tens of MiB of it (a push of 1 MiB PATCHes).
   */
  readonly #batches: Uint8Array[] = [];
  /** On the loop while the filesystem answers from memory (stat.ts). */
  readonly #stat: StatCalls;
  /** Bytes appended to an object and not yet flushed, by path, carried from one append to the next. */
  readonly #unflushed = new Map<string, number>();

  constructor(root: string, opts: FsDriverOptions = {}) {
    this.root = root;
    this.#tmp = join(root, '_tmp');
    this.#fsync = opts.fsync ?? true;
    this.#files = new DurableFiles(root, this.#fsync);
    this.#minFreeSpace = opts.minFreeSpace ?? 0;
    this.#stat = new StatCalls(undefined, opts.statSync);
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
      await this.#files.writeFile(tmp, typeof body === 'string' ? new TextEncoder().encode(body) : body);
      await this.#files.moveInto(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw fsError(e, `put ${key}`);
    }
  }

  async create(key: string, body: Uint8Array | string): Promise<boolean> {
    const path = this.#path(key);
    const tmp = join(this.#tmp, randomUUID());
    try {
      await this.#files.writeFile(tmp, typeof body === 'string' ? new TextEncoder().encode(body) : body);
      return await this.#files.linkInto(tmp, path);
    } catch (e) {
      throw fsError(e, `create ${key}`);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(key);
    try {
      const s = await this.#stat.stat(path);
      return s?.isFile ? { size: s.size, modified: s.mtime } : undefined;
    } catch (e) {
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
      await this.#files.flushDirectory(dirname(path));
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

  async append(key: string, at: number | undefined, body: AsyncIterable<Uint8Array>): Promise<number> {
    const path = this.#path(key);
    const what = `append to ${key}`;
    const handle = await this.#openAppendable(path, at ?? 0, what);
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw fsError(e, what);
    }
    if (at !== undefined && size !== at) {
      await handle.close().catch(() => undefined);
      throw conflict(what, at, size);
    }
    const offset = size;
    let position = offset;
    const carried = this.#unflushed.get(path) ?? 0;
    this.#unflushed.delete(path);
    const writeback = this.#fsync ? new Writeback(handle, flushEvery, carried) : undefined;
    if (writeback && carried >= flushCarried) writeback.start();
    // Only the disk's failures are storage errors; the body's (a client gone, a length that does
    // not match) leave as they came.
    const writeAll = async (bytes: Uint8Array): Promise<void> => {
      try {
        // write may write less than asked: write the rest from where it stopped.
        while (bytes.byteLength > 0) {
          const { bytesWritten } = await handle.write(bytes, 0, bytes.byteLength, position);
          position += bytesWritten;
          bytes = bytes.subarray(bytesWritten);
          writeback?.wrote(bytesWritten);
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
      if (writeback) {
        try {
          await writeback.settle();
        } catch (e) {
          throw fsError(e, what);
        }
        this.#carry(path, writeback.unflushed);
      }
      return position;
    } catch (e) {
      await writeback?.settle().catch(() => undefined);
      // A full disk is the usual reason: giving back what this chunk took is what frees it.
      await handle.truncate(offset).catch(() => undefined);
      throw e;
    } finally {
      if (batch && this.#batches.length < maxSpareBatches) this.#batches.push(batch);
      await handle.close().catch(() => undefined);
    }
  }

  #carry(path: string, unflushed: number): void {
    if (unflushed === 0) return;
    if (this.#unflushed.size >= maxUnflushed) {
      const oldest = this.#unflushed.keys().next().value;
      if (oldest !== undefined) this.#unflushed.delete(oldest);
    }
    this.#unflushed.set(path, unflushed);
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
      await this.#files.makeDirectory(dirname(path));
      return await open(path, 'w');
    } catch (e) {
      throw fsError(e, what);
    }
  }

  async commit(from: string, to: string, size?: number, opts: CommitOptions = {}): Promise<number> {
    const source = this.#path(from);
    const target = this.#path(to);
    const what = `commit ${from} to ${to}`;
    let committed = size;
    this.#unflushed.delete(source);
    try {
      // No labels here: nothing stands labelled.
      if (opts.label !== undefined) {
        const found = await this.stat(from);
        if (!found) throw new StorageError('missing', `${what}: no such object`);
        throw conflict(`${what} as labelled`, 0, found.size);
      }
      if (committed === undefined || this.#fsync) {
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
          committed = actual;
          // What the appends' background flushes (writeback.ts) have not reached the disk does, here.
          if (this.#fsync) await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      // Both paths hold verified, identical bytes if `to` exists; rename replaces atomically.
      await this.#files.moveInto(source, target);
      return committed ?? 0;
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
    const free = await freeSpace(this.root);
    if (free < this.#minFreeSpace) {
      throw new StorageError('full', `${free} bytes free on the filesystem of ${this.root}, below storage.fs.minFreeSpace (${this.#minFreeSpace})`, {
        reason: 'free space is below the configured minimum',
      });
    }
  }

  /** Removes temporary files left by writes that died (a crash, a kill); returns how many. */
  sweep(): Promise<number> {
    return sweepOlderThan(this.#tmp, orphanAge);
  }

  async #probe(): Promise<void> {
    const probe = join(this.#tmp, `probe-${randomUUID()}`);
    try {
      await this.#files.writeFile(probe, new Uint8Array(0), false);
      await unlink(probe);
    } catch (e) {
      await rm(probe, { force: true }).catch(() => undefined);
      const error = fsError(e, `write to ${this.root}`);
      // The root itself gone (or a file in its place) is an outage, not an object missing.
      if (error.kind !== 'missing') throw error;
      throw new StorageError('unavailable', error.message, { cause: e, reason: 'the storage directory is gone' });
    }
  }
}
