/**
 * What the maintenance passes of this process did lately, for the web UI: the last runs with their
 * reports, and the mirror cache as the last retention sweep measured it. In memory and bounded; each
 * replica knows its own runs (the logs and metrics carry them too).
 */

/** One finished pass (gc, upload purge, mirror retention) and what it reported. */
export interface MaintenanceRun {
  kind: string;
  finishedAt: Date;
  ok: boolean;
  /** The report's figures, as label and value; labels with "bytes" are byte counts. */
  figures: Array<[string, number]>;
}

/** A mirrored image retention would expire first, as the last sweep left things. */
export interface NextEviction {
  repository: string;
  digest: string;
  /** Bytes only this image holds (shared layers are not counted). */
  bytes?: number;
  lastUsed?: Date;
}

export interface MirrorCache {
  /** Bytes mirrored content occupies, counted as `mirror.retention.maxSize` counts them. */
  bytes: number;
  measuredAt: Date;
  /** What the next sweep would expire first, in order, if the cache is over its limit by then. */
  nextEvictions: NextEviction[];
}

const keptRuns = 20;

/** Content the store holds for its manifests, as a garbage collection counted it. */
export interface StoredContent {
  bytes: number;
  measuredAt: Date;
}

export class MaintenanceHistory {
  #runs: MaintenanceRun[] = [];
  #mirror: MirrorCache | undefined;
  #stored: StoredContent | undefined;

  /** Records a run; the oldest beyond the last twenty are forgotten. */
  record(run: MaintenanceRun): void {
    this.#runs.unshift(run);
    if (this.#runs.length > keptRuns) this.#runs.length = keptRuns;
  }

  /** Newest first. */
  runs(): MaintenanceRun[] {
    return [...this.#runs];
  }

  measuredMirror(cache: MirrorCache): void {
    this.#mirror = cache;
  }

  mirrorCache(): MirrorCache | undefined {
    return this.#mirror;
  }

  measuredStore(stored: StoredContent): void {
    this.#stored = stored;
  }

  storedContent(): StoredContent | undefined {
    return this.#stored;
  }
}

/** A report's numeric fields as figures, in the report's order, with labels a person reads. */
export const figuresOf = (report: object): Array<[string, number]> =>
  Object.entries(report).flatMap(([key, value]) => (typeof value === 'number' ? [[key.replace(/([A-Z])/g, ' $1').toLowerCase(), value] as [string, number]] : []));
