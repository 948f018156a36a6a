import type { Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { CoordinationConfig } from './schema.ts';
import type { Coordination, FailurePolicy, SharedFailures, SingleFlight, Turn, Versions } from './types.ts';

/**
 * The coordinator the configuration names, or undefined (no `coordination.redis`): then nothing of
 * it is loaded, ioredis included. What it returns is usable at once; until Redis answers, every
 * call takes the path a lone replica takes (storage, its own fetch, its own count).
 */
export function createCoordination(config: CoordinationConfig, deps: { logger: Logger; metrics: Metrics }): Coordination | undefined {
  const options = config.redis;
  if (!options) return undefined;
  const loaded = import('./redis/coordination.ts').then((m) => m.connectRedis(options, deps));
  let parts: Coordination | undefined;
  const started = loaded.then(
    (c) => {
      parts = c;
      return c.started;
    },
    (e: unknown) => deps.logger.error('coordination: cannot load the Redis client', { error: e instanceof Error ? e.message : String(e) }),
  );
  const own: Turn = { release: () => Promise.resolve() };
  const unavailable = (): Promise<never> => Promise.reject(new Error('coordination is not connected yet'));
  const versions: Versions = {
    current: (scope) => parts?.versions.current(scope) ?? Promise.resolve(undefined),
    // A write before the client loaded cannot be announced: the loaded one owes an epoch then.
    writing: (scopes, write) => (parts ? parts.versions.writing(scopes, write) : loaded.then((c) => c.versions.writing(scopes, write), write)),
  };
  const flights: SingleFlight = { acquire: (key) => parts?.flights.acquire(key) ?? Promise.resolve(own) };
  return {
    versions,
    flights,
    failures: (policy: FailurePolicy): SharedFailures => {
      let shared: SharedFailures | undefined;
      const get = (): SharedFailures | undefined => (shared ??= parts?.failures(policy));
      return {
        retryAfter: (keys) => get()?.retryAfter(keys) ?? unavailable(),
        fail: (keys) => get()?.fail(keys) ?? unavailable(),
        succeed: (key) => get()?.succeed(key) ?? unavailable(),
      };
    },
    started,
    close: async () => {
      await (await loaded.catch(() => undefined))?.close();
    },
  };
}
