import { link, mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isNotFound } from './errors.ts';

/**
 * Writing files so that what is acknowledged outlives a power loss: a file's data flushed
 * (fdatasync) before it is renamed into place, and the directory holding the new entry flushed
 * (fsync) after, including directories made on the way. With `fsync` off, the same steps without
 * the flushes: atomic, not durable. Node's errors leave as they came; the driver words them.
 */
export class DurableFiles {
  readonly #root: string;
  readonly #fsync: boolean;

  constructor(root: string, fsync: boolean) {
    this.#root = root;
    this.#fsync = fsync;
  }

  /** A new file holding `bytes`, flushed when fsync is on (and `flush` not false). */
  async writeFile(path: string, bytes: Uint8Array, flush = this.#fsync): Promise<void> {
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
  async moveInto(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.makeDirectory(dirname(to));
      await rename(from, to);
    }
    await this.flushDirectory(dirname(to));
  }

  /**
   * Links a flushed file in at `to` only if nothing is there (link(2) refuses an existing name in
   * one step, where rename would replace it); false when something was. The caller removes `from`.
   */
  async linkInto(from: string, to: string): Promise<boolean> {
    const linked = (): Promise<boolean> =>
      link(from, to).then(
        () => true,
        (e: unknown) => {
          if ((e as { code?: unknown }).code === 'EEXIST') return false;
          throw e;
        },
      );
    let made: boolean;
    try {
      made = await linked();
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.makeDirectory(dirname(to));
      made = await linked();
    }
    if (made) await this.flushDirectory(dirname(to));
    return made;
  }

  /** `mkdir -p`, flushing the entry of every directory it made, so they outlive a power loss too. */
  async makeDirectory(dir: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (e) {
      // A recursive mkdir says ENOENT where the truth is EROFS or EACCES further up: ask again
      // one level at a time, so the error names the real reason.
      if (!isNotFound(e)) throw e;
      for (let at = dir; at !== this.#root && at !== dirname(at); at = dirname(at)) {
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

  /** Flushes a directory's entries (a rename or unlink in it), when fsync is on. */
  async flushDirectory(dir: string): Promise<void> {
    if (this.#fsync) await syncDirectory(dir);
  }
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
