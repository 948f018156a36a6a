/**
 * Failed-login throttling: after `attempts` failures for one key (a user, an address), every further
 * try must wait, the wait doubling per failure up to `maxDelay`. A quiet period of `maxDelay`
 * forgets the key. While a key waits, even the right password is refused, so guessing cannot go on.
 */
import type { Duration } from '../config/duration.ts';
import type { SharedFailures } from '../coordination/types.ts';

export interface ThrottleOptions {
  /** Failures allowed before waiting, per key prefix: `user:` and `addr:` keys may differ. */
  attempts: (key: string) => number;
  delay: Duration;
  maxDelay: Duration;
  now?: () => number;
  /** Bounds memory when an attacker makes up names or addresses. */
  maxEntries?: number;
}

interface Entry {
  failures: number;
  /** Epoch ms until which tries are refused. */
  until: number;
  last: number;
}

/** What logins ask of a throttle: this process's own, or the fleet's (FleetThrottle). */
export interface LoginThrottle {
  retryAfter(keys: readonly string[]): number | Promise<number>;
  fail(keys: readonly string[]): void | Promise<void>;
  succeed(key: string): void | Promise<void>;
}

export class Throttle implements LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #opts: Required<ThrottleOptions>;

  constructor(opts: ThrottleOptions) {
    this.#opts = { now: Date.now, maxEntries: 10_000, ...opts };
  }

  #entry(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && this.#opts.now() - Math.max(e.last, e.until) > this.#opts.maxDelay) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Seconds to wait before any of `keys` may try again; 0 when they may now. */
  retryAfter(keys: readonly string[]): number {
    const now = this.#opts.now();
    let wait = 0;
    for (const key of keys) {
      const e = this.#entry(key);
      if (e && e.until > now) wait = Math.max(wait, Math.ceil((e.until - now) / 1000));
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const now = this.#opts.now();
    for (const key of keys) {
      const e = this.#entry(key) ?? { failures: 0, until: 0, last: now };
      e.failures++;
      e.last = now;
      const over = e.failures - this.#opts.attempts(key);
      if (over >= 0) e.until = now + Math.min(this.#opts.delay * 2 ** over, this.#opts.maxDelay);
      // Re-inserting keeps the map in least-recently-failed order, so the oldest go first.
      this.#entries.delete(key);
      this.#entries.set(key, e);
      if (this.#entries.size > this.#opts.maxEntries) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
    }
  }

  /** A good login clears that key (the user's), not the address's, which other guesses share. */
  succeed(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * Failed logins counted across the fleet (`coordination.redis`), so guesses spread over replicas
 * meet one count; this process's own count runs beside it and decides alone while the fleet's
 * cannot be asked. A wait is the longer of the two.
 */
export class FleetThrottle implements LoginThrottle {
  readonly #local: Throttle;
  readonly #shared: SharedFailures;

  constructor(local: Throttle, shared: SharedFailures) {
    this.#local = local;
    this.#shared = shared;
  }

  async retryAfter(keys: readonly string[]): Promise<number> {
    const shared = await this.#shared.retryAfter(keys).catch(() => 0);
    return Math.max(shared, this.#local.retryAfter(keys));
  }

  async fail(keys: readonly string[]): Promise<void> {
    this.#local.fail(keys);
    await this.#shared.fail(keys).catch(() => undefined);
  }

  async succeed(key: string): Promise<void> {
    this.#local.succeed(key);
    await this.#shared.succeed(key).catch(() => undefined);
  }
}
