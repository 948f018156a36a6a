/**
 * Ended spans wait in a bounded queue and go out in batches: every `delayMs`, or as soon as a full
 * batch is waiting. One export at a time; when the collector is slow or down the queue fills and
 * further spans are dropped (counted), so tracing can never hold more than `maxQueue` spans.
 * After a failed export only the timer tries again: a collector that is down costs one attempt
 * per `delayMs`, not one per full batch.
 */
export interface BatchOptions {
  delayMs: number;
  maxQueue: number;
  maxBatch: number;
}

export class Batcher<T> {
  readonly #send: (batch: T[]) => Promise<boolean>;
  readonly #options: BatchOptions;
  #queue: T[] = [];
  #sending: Promise<void> | undefined;
  #dropped = 0;
  #failing = false;
  readonly #timer: ReturnType<typeof setInterval>;

  /**
   * `send` resolves to whether the batch was delivered, and reports its own failures; a batch it
   * could not deliver is not tried again.
   */
  constructor(send: (batch: T[]) => Promise<boolean>, options: BatchOptions) {
    this.#send = send;
    this.#options = options;
    this.#timer = setInterval(() => void this.#drain(), options.delayMs);
    // Never keeps the process alive by itself.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Spans dropped because the queue was full, since the last call. */
  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }

  add(item: T): void {
    if (this.#queue.length >= this.#options.maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push(item);
    if (this.#queue.length >= this.#options.maxBatch && !this.#sending && !this.#failing) void this.#drain();
  }

  /** Sends what is queued now (one batch after another) and resolves when done. */
  #drain(): Promise<void> {
    if (this.#sending) return this.#sending;
    if (this.#queue.length === 0) return Promise.resolve();
    this.#sending = (async () => {
      try {
        while (this.#queue.length > 0) {
          const batch = this.#queue.splice(0, this.#options.maxBatch);
          this.#failing = !(await this.#send(batch).catch(() => false));
          if (this.#failing) return;
        }
      } finally {
        this.#sending = undefined;
      }
    })();
    return this.#sending;
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#drain();
  }
}
