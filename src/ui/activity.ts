/**
 * What the mirror did since this process started, per upstream, for the mirror page: how clients'
 * requests were answered (hit, miss, revalidated, stale) and how the upstream answered berth.
 * Counted in memory, beside the Prometheus counters (which are not kept per upstream).
 */

export interface UpstreamActivity {
  answers: Record<string, number>;
  requests: number;
  /** Network failures, timeouts, 429 and 5xx from the upstream. */
  errors: number;
  last?: { at: Date; method: string; status: number | 'error' };
  lastError?: { at: Date; status: number | 'error' };
}

export class MirrorActivity {
  readonly #byUpstream = new Map<string, UpstreamActivity>();

  #of(upstream: string): UpstreamActivity {
    let a = this.#byUpstream.get(upstream);
    if (!a) {
      a = { answers: {}, requests: 0, errors: 0 };
      this.#byUpstream.set(upstream, a);
    }
    return a;
  }

  /** A client's request for mirrored content, answered with `outcome`. */
  answered(upstream: string, outcome: string): void {
    const answers = this.#of(upstream).answers;
    answers[outcome] = (answers[outcome] ?? 0) + 1;
  }

  /** One request berth made to an upstream (the mirror's UpstreamObserver). */
  readonly requested = ({ upstream, method, status }: { upstream: string; method: string; status: number | 'error' }): void => {
    const a = this.#of(upstream);
    const at = new Date();
    a.requests++;
    a.last = { at, method, status };
    if (status === 'error' || status === 429 || status >= 500) {
      a.errors++;
      a.lastError = { at, status };
    }
  };

  of(upstream: string): UpstreamActivity | undefined {
    return this.#byUpstream.get(upstream);
  }
}
