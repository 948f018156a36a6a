import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { RedisOptions } from '../schema.ts';
import type { Coordination } from '../types.ts';
import { RedisFailures } from './failures.ts';
import { RedisFlights } from './flights.ts';
import { RedisLink } from './link.ts';
import { RedisVersions } from './versions.ts';

/** The coordinator on Redis: one connection (and one for pub/sub, when the mirror waits) shared by every part. */
export function connectRedis(options: RedisOptions, deps: { logger: Logger; metrics: Metrics }): Coordination {
  const link = new RedisLink(options, deps.logger, deps.metrics);
  const versions = new RedisVersions(link);
  const flights = new RedisFlights(link);
  const started = link.start([RedisVersions.define, RedisFlights.define, RedisFailures.define]);
  return {
    versions,
    flights,
    failures: (policy) => new RedisFailures(link, policy),
    started,
    close: () => link.close(),
  };
}
