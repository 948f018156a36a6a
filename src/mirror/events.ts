import type { Logger } from '../observability/log.ts';
import type { CircuitState } from './breaker.ts';

/** Why a request was answered without asking the upstream. */
export type Spared = 'not_found' | 'circuit_open' | 'rate_limited';

/**
 * What the mirror's upstreams report, for metrics, the UI and the log; every part optional. `url`
 * is the URL's position in the upstream's `urls` (1 is the first), never its host: metrics are
 * served to whoever may scrape them.
 */
export interface UpstreamEvents {
  /** Every request sent; `status` is 'error' when none came back. */
  requested?(event: { upstream: string; method: string; status: number | 'error' }): void;
  /** A request answered without asking: a remembered "not found", an open circuit, a rate-limit hold. */
  spared?(event: { upstream: string; reason: Spared }): void;
  /** A URL's circuit is in this state (also once at start, as closed). */
  circuit?(event: { upstream: string; url: string; from: CircuitState; to: CircuitState }): void;
  /** A URL is not asked until `until` (ms since the epoch; 0: no longer held). */
  rateLimited?(event: { upstream: string; url: string; until: number }): void;
  /** Requests to the upstream holding a connection slot, and waiting for one. */
  connections?(event: { upstream: string; active: number; queued: number }): void;
  /** Body bytes received from the upstream, and how long `maxBytesPerSecond` held them back. */
  received?(event: { upstream: string; bytes: number; throttledMs: number }): void;
  /** One line when a circuit opens or closes, or a rate limit begins. */
  logger?: Logger | undefined;
}
