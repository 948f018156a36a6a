import type { SingleFlight, Turn } from '../coordination/types.ts';
import { OciError } from '../oci/errors.ts';
import { KeyedLock } from './keyed-lock.ts';

/**
 * How long a write waits for its fleet-wide turn. A holder renews its lease while it works, and a
 * waiter may lose the race for the next turn again and again; past this the write fails with a
 * retryable 503 instead of hanging the client's request.
 */
const defaultPatienceMs = 60_000;

/**
 * Check-then-write under a key, one at a time: in this process always, and across every replica
 * when a coordinator is configured (a fleet-wide turn, `SingleFlight`). Without one, or while it
 * cannot be asked, replicas each hold only their own turn: callers must say what that leaves open.
 */
export class FleetLock {
  readonly #local = new KeyedLock();
  readonly #flights: SingleFlight | undefined;
  readonly #patienceMs: number;

  constructor(flights: SingleFlight | undefined, opts: { patienceMs?: number } = {}) {
    this.#flights = flights;
    this.#patienceMs = opts.patienceMs ?? defaultPatienceMs;
  }

  /** Whether turns are fleet-wide (a coordinator is configured; it may still be unreachable). */
  get shared(): boolean {
    return this.#flights !== undefined;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.#local.run(key, async () => {
      const turn = await this.#turn(key);
      try {
        return await fn();
      } finally {
        await turn?.release();
      }
    });
  }

  /** A turn of our own: `waited` only says another replica's turn ended, so ask again. */
  async #turn(key: string): Promise<Turn | undefined> {
    if (!this.#flights) return undefined;
    const deadline = Date.now() + this.#patienceMs;
    for (;;) {
      const turn = await this.#flights.acquire(`registry:${key}`);
      if (turn !== 'waited') return turn;
      if (Date.now() >= deadline) {
        throw new OciError('UNAVAILABLE', 'another replica is still writing here; try again', {
          headers: { 'Retry-After': '5' },
        });
      }
    }
  }
}
