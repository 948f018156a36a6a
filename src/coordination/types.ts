/**
 * What the layers around the registry ask of a coordinator shared by every replica (Redis, in
 * redis/). Each answer may be "cannot say now": the caller then does what a lone replica does
 * (reads storage, fetches itself, counts alone), which is slower and never wrong.
 */

/**
 * Versions of mutable state, per scope (a repository): the cache trusts an entry only while the
 * scope's version is the one it read the entry under.
 */
export interface Versions {
  /**
   * The scope's current version, or undefined when none can be trusted now: the coordinator is
   * unreachable, or a write to the scope is in flight somewhere in the fleet.
   */
  current(scope: string): Promise<string | undefined>;
  /**
   * Runs a write to `scopes` (`*`: anything), announced to the fleet: no replica trusts what it
   * cached of them while it runs, and a new version is published once it ends, failed or not.
   */
  writing<T>(scopes: readonly string[], write: () => Promise<T>): Promise<T>;
}

/** This replica's turn at a piece of work the fleet should do once (a mirror's upstream fetch). */
export interface Turn {
  /** Ends the turn; replicas waiting for it go on. */
  release(): Promise<void>;
}

/**
 * Fleet-wide single-flight: one replica at a time does the work under a key, the others wait for
 * it to end and then look at storage for its result.
 */
export interface SingleFlight {
  /**
   * This replica's turn (also when the coordinator cannot be asked: then each replica does its
   * own), or `waited` once another replica's turn under `key` ended (or was abandoned): the
   * caller looks again at what that turn should have stored, and asks again if it is not there.
   */
  acquire(key: string): Promise<Turn | 'waited'>;
}

/** How failed logins are held back (src/auth/throttle.ts holds the same rules for one process). */
export interface FailurePolicy {
  /** Failures allowed before waiting, per key (`user:` and `addr:` keys differ). */
  attempts(key: string): number;
  /** The first wait (ms), doubling per further failure. */
  delay: number;
  /** The longest wait (ms); a quiet period this long forgets the key. */
  maxDelay: number;
}

/** Failed logins counted across the fleet; every call rejects when the coordinator cannot be asked. */
export interface SharedFailures {
  /** Seconds to wait before any of `keys` may try again; 0 when they may now. */
  retryAfter(keys: readonly string[]): Promise<number>;
  fail(keys: readonly string[]): Promise<void>;
  succeed(key: string): Promise<void>;
}

/** The coordinator as the registry's layers use it. */
export interface Coordination {
  readonly versions: Versions;
  readonly flights: SingleFlight;
  failures(policy: FailurePolicy): SharedFailures;
  /** Resolves once the first connection was tried (berth serves either way). */
  readonly started: Promise<void>;
  close(): Promise<void>;
}
