import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isNotFound } from './errors.ts';

/** A synchronous stat slower than this is a sign of a disk or network filesystem that makes the loop wait. */
const slowMs = 1;
/** This many slow ones among `windowCalls` synchronous stats and stats go through the thread pool for `asyncMs`. */
const slowCalls = 8;
const windowCalls = 64;
const asyncMs = 30_000;

/**
 * stat(2) for the fs driver: synchronous while the filesystem answers from its caches, through
 * libuv's thread pool once it does not.
 *
 * Why synchronous: a blob HEAD is two stats (the repository's link, then the bytes). Through the
 * thread pool each one is a hand-off to a worker thread and back, ~5 futex calls and two context
 * switches, which on a server pinned to one core cost more than the rest of the request
 * (bench/README.md, "Blob HEAD on Node"); a stat answered from the dentry and inode caches takes
 * 2–5 µs of the loop's time. Nothing is cached here: every call asks the filesystem, so what gc or
 * another process changed is seen at once.
 *
 * Why the fallback: where a stat is not answered from memory (a cold cache on a spinning disk,
 * NFS), a synchronous one holds every other request for its whole duration. A few slow calls are
 * the process being descheduled, or its first stats at start; one in eight is the filesystem, and
 * the loop stops waiting on it for a while, then tries again.
 */
export class StatCalls {
  readonly #now: () => number;
  #asyncUntil = Number.NEGATIVE_INFINITY;
  /** Synchronous calls in the current window, and how many of them were slow. */
  #calls = 0;
  #slow = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Whether the next stat runs on the loop. */
  get synchronous(): boolean {
    return this.#now() >= this.#asyncUntil;
  }

  /** The file's stats; undefined when nothing is at `path` (or a component of it is not a directory). */
  async stat(path: string): Promise<Stats | undefined> {
    if (!this.synchronous) return stat(path).catch(absent);
    const began = this.#now();
    let s: Stats | undefined;
    try {
      s = statSync(path, { throwIfNoEntry: false });
    } catch (e) {
      s = absent(e);
    } finally {
      this.#timed(began, this.#now());
    }
    return s;
  }

  #timed(began: number, ended: number): void {
    if (ended - began >= slowMs && ++this.#slow >= slowCalls) {
      this.#asyncUntil = ended + asyncMs;
    } else if (++this.#calls < windowCalls) return;
    this.#calls = 0;
    this.#slow = 0;
  }
}

/** A missing file (or a file where a directory should be) is no stats; any other failure is the caller's to report. */
function absent(e: unknown): undefined {
  if (isNotFound(e)) return undefined;
  throw e;
}
