import { randomUUID } from 'node:crypto';
import type { Digest } from '../oci/digest.ts';
import type { Driver } from '../storage/driver.ts';
import { StorageError } from '../storage/errors.ts';
import { forEachBounded } from './bounded.ts';
import { fanOut } from './fan-out.ts';
import { layout } from './layout.ts';

/**
 * How garbage collection deletes beside pushes, in other processes and on other replicas, with
 * nothing but the store between them (the "safe while serving" of src/maintenance/README.md).
 *
 * A collection writes its marker (`_gc/runs/<id>`), then a tombstone per digest it is about to
 * delete bytes of or links to, then looks again for anything written since it marked, spares what
 * that uses, and only then deletes. A write that makes something rely on a digest (a blob link, a
 * manifest link) writes first and then looks for that digest's tombstones, and is refused if it
 * finds one. Each side writes before it reads, so of a collection and a write that race at least
 * one sees the other: the collection spares the digest, or the write is refused (the client sees
 * a 4xx and pushes again), or both.
 *
 * The look is one listing of the markers, shared: a write may use a listing that began less than
 * `settleMs / 2` before the write ended, since a collection whose marker that listing missed
 * waits `settleMs` after writing it before it looks again, and then finds the write. So pushes
 * cost at most one listing per `settleMs / 2` of the process, however many blobs they link. A
 * write that finds no marker, in a listing that ended less than `lingerMs / 2` after its checks
 * began, is done: a collection keeps its marker `lingerMs` past its last deletion, so one whose
 * marker was gone by then had deleted before the checks. Otherwise the write checks the
 * tombstones of every marked run and then its references once more.
 */
export const lingerMs = 1_000;
export const settleMs = 1_000;
/** A collection rewrites its marker this often... */
const refreshMs = 15_000;
/** ...stops before its next deletion once it has not managed to for this long... */
const liveForMs = 30_000;
/** ...and another collection removes a marker older than its own by this much (both the store's clock). */
const leaseMs = 60_000;
/**
 * A write ignores markers older than this by its own clock: a collection that died blocks pushes
 * of what it doomed at most this long. Far beyond `liveForMs`, so clock skew cannot matter.
 */
const abandonedMs = 5 * 60_000;

interface Listing {
  runs: string[];
  /** When the listing answered (this process's monotonic clock). */
  ended: number;
}

/** Runs one storage operation within the caller's bound (the inventory's). */
export type Slot = <T>(fn: () => Promise<T>) => Promise<T>;
const unbounded: Slot = (fn) => fn();

export class Collections {
  readonly #driver: Driver;
  /** The latest listing of the markers, shared by the writes that may use it (see above). */
  #listing: { began: number; runs: Promise<Listing> } | undefined;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  /** When a write's checks begin, for `holds`. */
  static started(): number {
    return performance.now();
  }

  /**
   * For a write that has just written what makes it rely on `relied`, whose checks began at
   * `started`: true when no collection can delete any of them under it. Otherwise false when a
   * live collection is about to (the write must be refused), else what `recheck` (the write's
   * checks, run again) says.
   */
  async holds(started: number, relied: readonly Digest[], recheck: () => Promise<boolean>): Promise<boolean> {
    const { runs, ended } = await this.#runs(performance.now() - settleMs / 2);
    if (runs.length === 0 && ended - started < lingerMs / 2) return true;
    for (const id of runs) {
      const marker = await this.#driver.stat(layout.collection(id));
      if (!marker || Date.now() - marker.modified.getTime() > abandonedMs) continue;
      let doomed = false;
      await fanOut.forEach(relied, async (digest) => {
        if (!doomed && (await this.#driver.stat(layout.doomed(id, digest)))) doomed = true;
      });
      if (doomed) return false;
    }
    return recheck();
  }

  /** The markers, listed no earlier than `since` (this process's monotonic clock). */
  #runs(since: number): Promise<Listing> {
    if (this.#listing && this.#listing.began >= since) return this.#listing.runs;
    const began = performance.now();
    const runs = this.#driver.list(layout.collections).then((ids) => ({ runs: ids, ended: performance.now() }));
    const listing = { began, runs };
    this.#listing = listing;
    // A failed listing fails the writes that share it, and the next write lists again.
    runs.catch(() => {
      if (this.#listing === listing) this.#listing = undefined;
    });
    return runs;
  }

  /** Starts a collection: its marker is written, and those of collections that died are removed. */
  async begin(slot: Slot = unbounded): Promise<Collection> {
    const run = new Collection(this.#driver, randomUUID(), slot);
    try {
      await this.#removeAbandoned(run.id, await run.refresh(), slot);
    } catch (e) {
      await run.end().catch(() => undefined);
      throw e;
    }
    return run;
  }

  /**
   * Markers older than ours by a lease, and tombstones of runs without a marker that are all that
   * old: a run that is alive rewrites its marker well within the lease and deletes nothing once it
   * could not, so what is removed here belongs to no run that can still delete.
   */
  async #removeAbandoned(own: string, ownWritten: number, slot: Slot): Promise<void> {
    const old = (info: { modified: Date } | undefined): boolean => info !== undefined && info.modified.getTime() < ownWritten - leaseMs;
    const runs = await slot(() => this.#driver.list(layout.collections));
    const marked = new Set(runs);
    for (const id of runs) {
      if (id === own || !old(await slot(() => this.#driver.stat(layout.collection(id))))) continue;
      await slot(() => this.#driver.deletePrefix(layout.doomedBy(id)));
      await slot(() => this.#driver.delete(layout.collection(id)));
    }
    for (const id of await slot(() => this.#driver.list(layout.allDoomed))) {
      if (marked.has(id)) continue;
      let young = false;
      await forEachBounded(await slot(() => this.#driver.list(layout.doomedBy(id))), async (name) => {
        const info = await slot(() => this.#driver.stat(`${layout.doomedBy(id)}/${name}`));
        if (info && !old(info)) young = true;
      });
      if (!young) await slot(() => this.#driver.deletePrefix(layout.doomedBy(id)));
    }
  }
}

/** One collection run's side of the protocol: its marker and its tombstones. */
export class Collection {
  readonly id: string;
  readonly #driver: Driver;
  readonly #slot: Slot;
  /** When the last marker write that succeeded began (this process's monotonic clock). */
  #refreshed = -Infinity;
  /** When the marker was first written (this process's monotonic clock), for `settled`. */
  #announced: number | undefined;
  readonly #timer: ReturnType<typeof setInterval>;
  #doomedAny = false;
  /** The timer's marker write in flight: `end` waits for it, or it could put the marker back. */
  #refreshing: Promise<unknown> = Promise.resolve();

  constructor(driver: Driver, id: string, slot: Slot) {
    this.#driver = driver;
    this.id = id;
    this.#slot = slot;
    this.#timer = setInterval(() => {
      this.#refreshing = this.refresh().catch(() => undefined);
    }, refreshMs);
  }

  /** Writes the marker; returns its time on the store's clock. */
  async refresh(): Promise<number> {
    const at = performance.now();
    const key = layout.collection(this.id);
    await this.#slot(() => this.#driver.put(key, JSON.stringify({ refreshed: new Date().toISOString() })));
    this.#refreshed = at;
    this.#announced ??= performance.now();
    return (await this.#slot(() => this.#driver.stat(key)))?.modified.getTime() ?? Date.now();
  }

  /**
   * Throws unless the marker was written recently enough that no other collection can have taken
   * this one for dead: called before each deletion.
   */
  assertLive(): void {
    if (performance.now() - this.#refreshed > liveForMs) {
      throw new StorageError('unavailable', `garbage collection ${this.id} could not renew its marker for ${liveForMs / 1000}s; stopped before deleting more`);
    }
  }

  /**
   * Waits until `settleMs` have passed since the marker was written: a write that missed it in a
   * listing has ended by then, so the look that follows finds what it wrote.
   */
  async settled(): Promise<void> {
    const left = (this.#announced ?? performance.now()) + settleMs - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }

  /** Announces that `digest`'s bytes, or links to it, are about to go. */
  async doom(digest: Digest): Promise<void> {
    this.assertLive();
    this.#doomedAny = true;
    await this.#slot(() => this.#driver.put(layout.doomed(this.id, digest), ''));
  }

  /** Takes the announcement back: the digest stays. */
  async spare(digest: Digest): Promise<void> {
    await this.#slot(() => this.#driver.delete(layout.doomed(this.id, digest)));
  }

  /**
   * Keeps the marker `lingerMs` past the last deletion (a write that began before it then looks
   * at the tombstones), then removes the tombstones and the marker. Deletions follow a tombstone,
   * so a run that doomed nothing has nothing to wait for.
   */
  async end(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
    if (this.#doomedAny) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    await this.#slot(() => this.#driver.deletePrefix(layout.doomedBy(this.id)));
    await this.#slot(() => this.#driver.delete(layout.collection(this.id)));
  }

}
