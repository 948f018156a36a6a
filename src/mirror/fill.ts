import type { ByteRange } from '../oci/range.ts';

/** What an upstream answered for a blob: its length when announced, and the body. */
export interface FillSource {
  size: number | undefined;
  body: ReadableStream<Uint8Array>;
}

export interface FillOptions {
  /** Writes the body to storage, verifying the digest before committing; rejects if anything fails. */
  store(body: ReadableStream<Uint8Array>, size: number | undefined): Promise<void>;
  /** Reads committed bytes back, for readers that fell behind and for ranges. */
  readStored(range: ByteRange): Promise<ReadableStream<Uint8Array>>;
  /** Bytes a reader may have queued before it is switched to reading from storage after the commit. */
  readerBuffer: number;
  /** Bytes kept from the start of the body so readers arriving a little late still stream live. */
  replayBuffer: number;
}

interface Reader {
  queue: Uint8Array[];
  queued: number;
  /** Set when the reader fell too far behind: from this offset it reads from storage after the commit. */
  resumeAt: number | undefined;
  wake: (() => void) | undefined;
}

/**
 * One upstream download of one blob, shared by every request that wants it while it runs (DESIGN:
 * one upstream fetch per digest). The storage write drives the download, so a slow or vanished
 * client never holds it back; each client gets the bytes as they arrive through a bounded queue,
 * and one that falls behind continues from storage once the blob is committed.
 *
 * No reader completes on bytes that were not verified. A client that has received as many bytes as
 * the response's Content-Length considers it complete, whatever the server does next; so each
 * reader keeps the newest chunk it was given until the digest was verified and the blob committed,
 * and when the fill fails, its stream errors (the runtime then aborts the connection) instead of
 * ending. A range is served from storage once the blob is committed: its last byte may come long
 * before the blob's, so holding back its end would not stop it completing on unverified bytes.
 *
 * A live reader is handed out only once it has a chunk it may send (or will read from storage):
 * a fill that fails before then, as when the upstream's bytes all came in one piece before it
 * broke off, refuses the request (503) instead of answering 200 with a body that dies before its
 * first byte, which Bun sends as a bare connection reset without a status line.
 */
export class Fill {
  /** Resolves with the blob's size (when announced) once the upstream answered. */
  readonly ready: Promise<{ size: number | undefined }>;
  /** Resolves once the verified blob is committed; rejects when the fill failed. */
  readonly done: Promise<void>;
  readonly #opts: FillOptions;
  readonly #readers = new Set<Reader>();
  #received = 0;
  #replay: Uint8Array[] | undefined = [];
  #replayed = 0;
  #state: 'running' | 'committed' | 'failed' = 'running';
  #error: unknown;

  constructor(open: () => Promise<FillSource>, opts: FillOptions) {
    this.#opts = opts;
    const source = open();
    this.ready = source.then((s) => ({ size: s.size }));
    this.done = source.then((s) => this.#run(s));
    this.done.then(
      () => this.#settle('committed'),
      (e: unknown) => {
        this.#error = e;
        this.#settle('failed');
      },
    );
    // Callers await `ready` or `done` when they care; an unobserved failure must not crash the process.
    this.ready.catch(() => undefined);
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  async #run(source: FillSource): Promise<void> {
    const upstream = source.body.getReader();
    const tee = new ReadableStream<Uint8Array>(
      {
        pull: async (ctl) => {
          const r = await upstream.read();
          if (r.done) {
            ctl.close();
            return;
          }
          this.#deliver(r.value);
          ctl.enqueue(r.value);
        },
        cancel: (reason) => upstream.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    try {
      await this.#opts.store(tee, source.size);
    } catch (e) {
      await upstream.cancel(e).catch(() => undefined);
      throw e;
    }
  }

  #deliver(chunk: Uint8Array): void {
    const offset = this.#received;
    this.#received += chunk.byteLength;
    if (this.#replay) {
      this.#replay.push(chunk);
      this.#replayed += chunk.byteLength;
      if (this.#replayed > this.#opts.replayBuffer) this.#replay = undefined;
    }
    for (const r of this.#readers) this.#offer(r, chunk, offset);
  }

  /** Queues `chunk` (at `offset` in the blob) for `r`, unless it fell behind. */
  #offer(r: Reader, chunk: Uint8Array, offset: number): void {
    if (r.resumeAt !== undefined) return;
    if (r.queued + chunk.byteLength > this.#opts.readerBuffer) {
      r.resumeAt = offset;
    } else {
      r.queue.push(chunk);
      r.queued += chunk.byteLength;
    }
    r.wake?.();
  }

  #settle(state: 'committed' | 'failed'): void {
    this.#state = state;
    this.#replay = undefined;
    for (const r of this.#readers) r.wake?.();
  }

  /**
   * The blob as this fill delivers it, or a range of it once verified; rejects when the fill has
   * failed (a range: when it fails before the commit).
   */
  async reader(range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    if (range) {
      await this.done;
      return this.#opts.readStored(range);
    }
    if (this.#state === 'failed') throw this.#error;
    const r = this.#join();
    try {
      await this.#sendable(r);
    } catch (e) {
      this.#readers.delete(r);
      r.queue = [];
      throw e;
    }
    return this.#live(r);
  }

  /** While the fill runs, the newest chunk delivered to a reader may be the blob's last: it waits for the commit. */
  #held(r: Reader): number {
    return this.#state === 'running' && r.resumeAt === undefined ? 1 : 0;
  }

  /** Resolves once `r` has a chunk it may send, reads from storage, or the blob is committed; rejects when the fill fails first. */
  async #sendable(r: Reader): Promise<void> {
    for (;;) {
      if (this.#state === 'failed') throw this.#error;
      if (this.#state === 'committed' || r.resumeAt !== undefined || r.queue.length > this.#held(r)) return;
      await new Promise<void>((wake) => (r.wake = wake));
      r.wake = undefined;
    }
  }

  /** A new reader, given the start of the blob when it is still in memory. */
  #join(): Reader {
    const r: Reader = { queue: [], queued: 0, resumeAt: undefined, wake: undefined };
    if (this.#replay) {
      let offset = 0;
      for (const chunk of this.#replay) {
        this.#offer(r, chunk, offset);
        offset += chunk.byteLength;
      }
    } else if (this.#received > 0) {
      // Too late for the live stream: the start is gone from memory, so read it all from storage.
      r.resumeAt = 0;
    }
    this.#readers.add(r);
    return r;
  }

  #live(r: Reader): ReadableStream<Uint8Array> {
    let stored: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (ctl) => {
          for (;;) {
            if (stored) {
              const s = await stored.read();
              if (s.done) ctl.close();
              else ctl.enqueue(s.value);
              return;
            }
            if (this.#state === 'failed') {
              this.#readers.delete(r);
              r.queue = [];
              throw this.#error;
            }
            // A reader that fell behind ends from storage after the commit, so its queue can all go.
            if (r.queue.length > this.#held(r)) {
              const chunk = r.queue.shift()!;
              r.queued -= chunk.byteLength;
              ctl.enqueue(chunk);
              return;
            }
            if (this.#state === 'committed') {
              this.#readers.delete(r);
              if (r.resumeAt === undefined || r.resumeAt >= this.#received) {
                ctl.close();
                return;
              }
              stored = (await this.#opts.readStored({ start: r.resumeAt, end: this.#received - 1 })).getReader();
              continue;
            }
            await new Promise<void>((wake) => (r.wake = wake));
            r.wake = undefined;
          }
        },
        cancel: async (reason) => {
          // A client that goes away stops its own stream only; the fill goes on for the others.
          this.#readers.delete(r);
          r.queue = [];
          await stored?.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }
}

/** The fills running now, by key: the first request for a key starts one, the others join it. */
export class Fills {
  readonly #running = new Map<string, Fill>();

  get(key: string): Fill | undefined {
    return this.#running.get(key);
  }

  /** The running fill for `key`, or a new one from `start`; it leaves the table when it ends. */
  join(key: string, start: () => Fill): Fill {
    const running = this.#running.get(key);
    if (running) return running;
    const fill = start();
    this.#running.set(key, fill);
    const leave = (): void => {
      if (this.#running.get(key) === fill) this.#running.delete(key);
    };
    fill.done.then(leave, leave);
    return fill;
  }
}
