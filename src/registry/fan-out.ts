import { forEachBounded, Limiter, mapBounded, storageFanOut } from './bounded.ts';

/**
 * One budget for every request that fans out to storage (an index's children, a manifest's
 * layers, a subject's referrers, the tags of a deleted manifest), shared by the whole process:
 * each request keeps at most `storageFanOut` items in flight, and all of them together too.
 *
 * Per request alone is not enough. Eight PUTs of 30,000-layer manifests would keep 64 stats in
 * flight, and on Deno a steady stream of completing file operations starves the sockets: `GET /v2/`
 * from an unrelated client waited 240 ms at the median (bench/manifests-big.ts). With one budget,
 * concurrent fan-outs take turns item by item (the waiting queue is first come, first served), the
 * open files they cost are bounded whatever the number of requests, and other clients are served.
 * An item's work must not fan out again through this budget: it could wait for its own slots.
 */
const budget = new Limiter(storageFanOut);

/**
 * Fan-out work runs for at most this long before every fan-out pauses for one turn of the event
 * loop. Deno keeps resolving file operations that complete while others start, and polls sockets
 * rarely meanwhile: with the budget alone, `GET /v2/` still waited 75 ms at the median during the
 * big PUTs, and 0.5 ms with the pause. On Node and Bun it costs a millisecond a slice. A fan-out
 * after a quiet spell starts a new slice rather than pausing, so small requests never wait.
 */
const sliceMs = 10;
let sliceStarted = 0;
let lastItem = 0;
let pausing: Promise<void> | undefined;

function breathe(): Promise<void> | undefined {
  const now = performance.now();
  if (now - lastItem > sliceMs) sliceStarted = now;
  lastItem = now;
  if (pausing === undefined && now - sliceStarted >= sliceMs) {
    pausing = new Promise<void>((resume) => setTimeout(resume, 0)).then(() => {
      pausing = undefined;
      sliceStarted = performance.now();
    });
  }
  return pausing;
}

/** Runs `fn` in a slot of the budget, after the pause if one is due (checked once the slot is ours). */
function inTurn<R>(fn: () => Promise<R>): Promise<R> {
  return budget.run(async () => {
    await breathe();
    return fn();
  });
}

export const fanOut = {
  forEach<T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>): Promise<void> {
    return forEachBounded(items, (item) => inTurn(() => fn(item)));
  },
  map<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    return mapBounded(items, (item) => inTurn(() => fn(item)));
  },
};
