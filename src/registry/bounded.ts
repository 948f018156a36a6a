/**
 * Storage operations one pass (gc, retention, a catalog walk) keeps in flight at most: enough to
 * hide S3's latency, far below any file-descriptor limit, so a registry of any size costs the same
 * descriptors and a bounded slice of memory.
 */
export const storageFanOut = 8;

/** A counting semaphore: at most `limit` of the functions given to `run` are running at once. */
export class Limiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number = storageFanOut) {
    this.#limit = limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((start) => this.#waiting.push(start));
    else this.#running++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next waiter, so `#running` never dips below what runs.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

/**
 * Calls `fn` for every item, at most `limit` at a time, taking items from the iterable only as
 * slots free up (a lazy walk stays lazy). The first failure stops new calls and is thrown once
 * the running ones have settled.
 */
export async function forEachBounded<T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>, limit: number = storageFanOut): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let failed = false;
  let failure: unknown;
  const fail = (e: unknown): void => {
    if (!failed) failure = e;
    failed = true;
  };
  const worker = async (): Promise<void> => {
    while (!failed) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (e) {
        fail(e);
        return;
      }
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (e) {
        fail(e);
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failed) {
    try {
      await iterator.return?.();
    } catch {
      // The walk itself may be what failed; the first failure is the one to report.
    }
    throw failure;
  }
}

/** `fn` of every item, in the items' order, at most `limit` at a time. */
export async function mapBounded<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit: number = storageFanOut): Promise<R[]> {
  const out = new Array<R>(items.length);
  await forEachBounded(items.keys(), async (i) => {
    out[i] = await fn(items[i] as T);
  }, limit);
  return out;
}
