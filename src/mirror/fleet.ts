import type { SingleFlight } from '../coordination/types.ts';

/**
 * Turns at the mirror's upstream work, fleet-wide when a coordinator is configured (one replica
 * fetches a digest, the others wait for it to be stored and read it from storage), else this
 * replica's alone. Requests on this replica asking for one key at once share one acquisition,
 * so they join the work it starts as they join a local fill.
 */
export class FleetTurns {
  readonly #flights: SingleFlight | undefined;
  readonly #pending = new Map<string, Promise<unknown>>();

  constructor(flights: SingleFlight | undefined) {
    this.#flights = flights;
  }

  /** Whether turns are the fleet's (else each is this replica's at once). */
  get shared(): boolean {
    return this.#flights !== undefined;
  }

  /**
   * Starts the work under `key` (`start`) once it is this replica's turn, and holds the turn until
   * `running(work)` settles; resolves `waited` instead when another replica's turn ended first,
   * after which the caller finds the result in storage (or, if that turn failed, asks again).
   */
  take<T>(key: string, start: () => T, running: (work: T) => Promise<unknown>): Promise<T | 'waited'> {
    const flights = this.#flights;
    if (!flights) return Promise.resolve(start());
    const pending = this.#pending.get(key) as Promise<T | 'waited'> | undefined;
    if (pending) return pending;
    const taking = (async (): Promise<T | 'waited'> => {
      const turn = await flights.acquire(key);
      if (turn === 'waited') return 'waited';
      let work: T;
      try {
        work = start();
      } catch (e) {
        await turn.release();
        throw e;
      }
      const release = (): Promise<void> => turn.release();
      running(work).then(release, release);
      return work;
    })();
    this.#pending.set(key, taking);
    const leave = (): void => {
      if (this.#pending.get(key) === taking) this.#pending.delete(key);
    };
    taking.then(leave, leave);
    return taking;
  }
}
