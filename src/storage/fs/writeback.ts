import type { FileHandle } from 'node:fs/promises';

/**
 * Flushes an upload's file in the background while more of it arrives, so that the flush at
 * commit (which the client waits for) finds little left to write. Without it a 1 GiB PUT sat
 * ~1.3–1.5 s in its one fdatasync after the last byte came in, a fifth of the request, with the
 * server idle (bench/README.md). One flush at a time, on the append's own handle; a failure is
 * kept and thrown, never dropped: a flush that reported an error once would not report it again
 * to the commit's flush, and the bytes would be acknowledged without being on disk.
 */
export class Writeback {
  readonly #handle: FileHandle;
  readonly #every: number;
  #pending: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;
  #since: number;

  /**
   * `every`: bytes written since the last flush started that start the next one; `unflushed`:
   * what earlier writes left unflushed.
   */
  constructor(handle: FileHandle, every: number, unflushed = 0) {
    this.#handle = handle;
    this.#every = every;
    this.#since = unflushed;
  }

  /** Bytes written since the last flush started (the next append's `unflushed`). */
  get unflushed(): number {
    return this.#since;
  }

  /** Starts a flush of what the file holds now, unless one is under way. */
  start(): void {
    this.#check();
    if (this.#pending) return;
    this.#since = 0;
    this.#pending = this.#handle.datasync().then(
      () => {
        this.#pending = undefined;
      },
      (error: unknown) => {
        this.#failure ??= { error };
        this.#pending = undefined;
      },
    );
  }

  /** Counts bytes written; enough of them since the last flush started start another. */
  wrote(bytes: number): void {
    this.#check();
    this.#since += bytes;
    if (this.#since >= this.#every) this.start();
  }

  /** Waits for the flush under way (the handle must not be closed before); throws a failed flush's error. */
  async settle(): Promise<void> {
    while (this.#pending) await this.#pending;
    this.#check();
  }

  #check(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
