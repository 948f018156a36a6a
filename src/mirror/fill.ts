import type { ByteRange } from '../oci/range.ts';

/** What an upstream answered for a blob: its length when announced, and the body. */
export interface FillSource {
  size: number | undefined;
  body: ReadableStream<Uint8Array>;
}

export interface FillOptions {
  /** Writes the body to storage, verifying the digest before committing; rejects if anything fails. */
  store(body: ReadableStream<Uint8Array>, size: number | undefined): Promise<void>;
  /** Reads committed bytes back, for readers that fell behind. */
  readStored(range: ByteRange): Promise<ReadableStream<Uint8Array>>;
  /** Bytes a reader may have queued before it is switched to reading from storage after the commit. */
  readerBuffer: number;
  /** Bytes kept from the start of the body so readers arriving a little late still stream live. */
  replayBuffer: number;
}

interface Reader {
  start: number;
  /** Inclusive; Infinity for "to the end". */
  end: number;
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
 * and one that falls behind continues from storage once the blob is committed. Readers see the end
 * of the stream only after the digest was verified and committed, and an error otherwise.
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

  /** Queues the part of `chunk` (at `offset` in the blob) that `r` wants, unless it fell behind. */
  #offer(r: Reader, chunk: Uint8Array, offset: number): void {
    if (r.resumeAt !== undefined) return;
    const from = Math.max(r.start - offset, 0);
    const to = Math.min(r.end + 1 - offset, chunk.byteLength);
    if (to <= from) return;
    if (r.queued + (to - from) > this.#opts.readerBuffer) {
      r.resumeAt = offset + from;
      return;
    }
    r.queue.push(from === 0 && to === chunk.byteLength ? chunk : chunk.subarray(from, to));
    r.queued += to - from;
    r.wake?.();
  }

  #settle(state: 'committed' | 'failed'): void {
    this.#state = state;
    this.#replay = undefined;
    for (const r of this.#readers) r.wake?.();
  }

  /** The blob (or a range of it) as this fill delivers it. */
  reader(range?: ByteRange): ReadableStream<Uint8Array> {
    const r: Reader = { start: range?.start ?? 0, end: range?.end ?? Infinity, queue: [], queued: 0, resumeAt: undefined, wake: undefined };
    if (this.#replay) {
      let offset = 0;
      for (const chunk of this.#replay) {
        this.#offer(r, chunk, offset);
        offset += chunk.byteLength;
      }
    } else if (this.#received > r.start) {
      // Too late for the live stream: the start is gone from memory, so read it all from storage.
      r.resumeAt = r.start;
    }
    this.#readers.add(r);
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
            const chunk = r.queue.shift();
            if (chunk) {
              r.queued -= chunk.byteLength;
              ctl.enqueue(chunk);
              return;
            }
            if (this.#state === 'failed') {
              this.#readers.delete(r);
              throw this.#error;
            }
            if (this.#state === 'committed') {
              this.#readers.delete(r);
              if (r.resumeAt === undefined || r.resumeAt > Math.min(r.end, this.#received - 1)) {
                ctl.close();
                return;
              }
              const end = Math.min(r.end, this.#received - 1);
              stored = (await this.#opts.readStored({ start: r.resumeAt, end })).getReader();
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
