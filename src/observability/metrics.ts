import { Counter, Gauge, Histogram, Registry as PromRegistry } from './prom-client.ts';
import { RequestMetrics, type FinishedRequest } from './request-metrics.ts';

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * berth's metrics, in the Prometheus text format via prom-client (which runs on Node, Bun and
 * Deno). One instance per registry; each layer records into the families it owns.
 */
export class Metrics {
  readonly registry = new PromRegistry();

  /** The per-request HTTP families (requests, durations, bytes in and out): request-metrics.ts. */
  readonly requests = new RequestMetrics(latencyBuckets);

  readonly uploadsInFlight = new Gauge({
    name: 'berth_uploads_in_flight',
    help: 'Blob upload requests (POST with a body, PATCH, PUT) being received now',
    registers: [this.registry],
  });

  readonly storageDuration = new Histogram({
    name: 'berth_storage_operation_duration_seconds',
    help: 'Storage driver operations, by driver and operation',
    labelNames: ['driver', 'operation'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });

  readonly storageErrors = new Counter({
    name: 'berth_storage_errors_total',
    help: 'Storage driver operations that failed, by driver and operation',
    labelNames: ['driver', 'operation'] as const,
    registers: [this.registry],
  });

  readonly mirrorRequests = new Counter({
    name: 'berth_mirror_requests_total',
    help: 'Requests for mirrored content by route and how the mirror answered (hit, miss, revalidated, stale)',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'berth_mirror_upstream_requests_total',
    help: 'Requests to upstream registries by upstream, method and status',
    labelNames: ['upstream', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'berth_mirror_upstream_errors_total',
    help: 'Upstream requests that failed (network, timeout) or answered 429 or 5xx, by upstream',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly upstreamSpared = new Counter({
    name: 'berth_mirror_upstream_spared_total',
    help: 'Requests for an upstream answered without asking it, by upstream and reason (not_found: a remembered 404; circuit_open; rate_limited)',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });

  readonly circuitState = new Gauge({
    name: 'berth_mirror_upstream_circuit_state',
    help: "State of each upstream URL's circuit breaker: 0 closed, 1 half-open (a probe is under way), 2 open; url is the URL's position in the upstream's urls",
    labelNames: ['upstream', 'url'] as const,
    registers: [this.registry],
  });

  readonly circuitTransitions = new Counter({
    name: 'berth_mirror_upstream_circuit_transitions_total',
    help: 'Changes of state of upstream circuit breakers, by upstream, URL position and the state entered',
    labelNames: ['upstream', 'url', 'to'] as const,
    registers: [this.registry],
  });

  readonly rateLimitedUntil = new Gauge({
    name: 'berth_mirror_upstream_rate_limited_until_seconds',
    help: 'Unix time until which an upstream URL is not asked because it said its rate limit is reached; 0 when it is not held',
    labelNames: ['upstream', 'url'] as const,
    registers: [this.registry],
  });

  readonly upstreamConnections = new Gauge({
    name: 'berth_mirror_upstream_connections',
    help: 'Requests to an upstream holding a connection (state="active") and waiting for one under maxConnections (state="queued")',
    labelNames: ['upstream', 'state'] as const,
    registers: [this.registry],
  });

  readonly upstreamReceived = new Counter({
    name: 'berth_mirror_upstream_received_bytes_total',
    help: 'Body bytes received from each upstream (manifests, blobs, listings), over all its URLs',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly upstreamThrottled = new Counter({
    name: 'berth_mirror_upstream_throttled_seconds_total',
    help: "Seconds bodies from each upstream were held back by its maxBytesPerSecond, summed over the bodies being read",
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly referrersFallbacks = new Counter({
    name: 'berth_mirror_referrers_fallbacks_total',
    help: 'Referrers lists read through the referrers tag schema because the upstream has no referrers API (404), by upstream',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly prefetchRuns = new Counter({
    name: 'berth_mirror_prefetch_runs_total',
    help: 'Scheduled runs of mirror.prefetch, by result (ok; failed: something could not be fetched)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly prefetchBlobs = new Counter({
    name: 'berth_mirror_prefetch_blobs_total',
    help: 'Blobs scheduled prefetch runs took up, by state (fetched: downloaded now; present: stored already)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly prefetchBytes = new Counter({
    name: 'berth_mirror_prefetch_fetched_bytes_total',
    help: 'Bytes of the blobs scheduled prefetch runs downloaded',
    registers: [this.registry],
  });

  readonly prefetchFailures = new Counter({
    name: 'berth_mirror_prefetch_failures_total',
    help: 'Images, tags and blobs scheduled prefetch runs could not fetch (the log line of the run says which and why)',
    registers: [this.registry],
  });

  readonly prefetchLastSuccess = new Gauge({
    name: 'berth_mirror_prefetch_last_success_timestamp_seconds',
    help: 'Unix time the last scheduled prefetch run that fetched everything ended; 0 before one has',
    registers: [this.registry],
  });

  readonly gcRuns = new Counter({
    name: 'berth_gc_runs_total',
    help: 'Garbage collection runs in this process',
    registers: [this.registry],
  });

  readonly gcBytes = new Counter({
    name: 'berth_gc_reclaimed_bytes_total',
    help: 'Blob bytes deleted by garbage collection in this process',
    registers: [this.registry],
  });

  readonly uploadsPurged = new Counter({
    name: 'berth_uploads_purged_total',
    help: 'Stale upload sessions deleted',
    registers: [this.registry],
  });

  readonly eventsQueued = new Gauge({
    name: 'berth_events_queued',
    help: 'Events waiting for delivery, by webhook (the one being delivered included)',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  readonly eventsDropped = new Counter({
    name: 'berth_events_dropped_total',
    help: 'Events dropped because the webhook\'s queue was full (or the server stopped before delivering them), by webhook',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  readonly eventsDelivered = new Counter({
    name: 'berth_events_delivered_total',
    help: 'Events a webhook accepted (2xx), by webhook',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  readonly eventsFailed = new Counter({
    name: 'berth_events_failed_total',
    help: 'Events given up on (a final refusal, or out of retries), by webhook',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  readonly eventAttemptsFailed = new Counter({
    name: 'berth_events_delivery_failures_total',
    help: 'Delivery attempts that failed, by webhook and reason (timeout, unreachable, status NNN)',
    labelNames: ['webhook', 'reason'] as const,
    registers: [this.registry],
  });

  readonly eventLatency = new Histogram({
    name: 'berth_events_delivery_seconds',
    help: 'From an event being raised to its receiver accepting it (queueing and retries included), by webhook',
    labelNames: ['webhook'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });

  /** The events box's DeliveryObserver. */
  readonly eventDelivery = {
    queued: (webhook: string, length: number): void => this.eventsQueued.set({ webhook }, length),
    dropped: (webhook: string): void => this.eventsDropped.inc({ webhook }),
    attemptFailed: (webhook: string, reason: string): void => this.eventAttemptsFailed.inc({ webhook, reason }),
    failed: (webhook: string): void => this.eventsFailed.inc({ webhook }),
    delivered: (webhook: string, seconds: number): void => {
      this.eventsDelivered.inc({ webhook });
      this.eventLatency.observe({ webhook }, seconds);
    },
  };

  readonly quotaUsed = new Gauge({
    name: 'berth_quota_used_bytes',
    help: 'Bytes the repositories under a quota\'s prefix hold (shared content once), as last counted, by prefix',
    labelNames: ['prefix'] as const,
    registers: [this.registry],
  });

  readonly quotaLimit = new Gauge({
    name: 'berth_quota_limit_bytes',
    help: 'Bytes the repositories under a quota\'s prefix may hold, by prefix',
    labelNames: ['prefix'] as const,
    registers: [this.registry],
  });

  readonly coordinationUp = new Gauge({
    name: 'berth_coordination_up',
    help: 'Whether this replica reaches its coordinator (coordination.redis): 1 yes, 0 no (it then serves from storage alone)',
    registers: [this.registry],
  });

  readonly coordinationErrors = new Counter({
    name: 'berth_coordination_errors_total',
    help: 'Coordinator calls that failed or were not tried because it was unreachable, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly cacheReads = new Counter({
    name: 'berth_cache_reads_total',
    help: 'Reads of tags, links and manifests through the in-memory cache: hit, miss (read from storage and kept), or uncached (read from storage: nothing could vouch for a copy)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Records one finished HTTP request. */
  requestDone(r: FinishedRequest & { upstream?: string | undefined }): void {
    this.requests.record(r);
    if (r.upstream !== undefined) this.mirrorRequests.inc({ route: r.route, outcome: r.upstream });
  }

  /** Records one upstream request (the mirror's UpstreamObserver). */
  readonly upstreamRequest = ({ upstream, method, status }: { upstream: string; method: string; status: number | 'error' }): void => {
    this.upstreamRequests.inc({ upstream, method, status: String(status) });
    if (status === 'error' || status === 429 || status >= 500) this.upstreamErrors.inc({ upstream });
  };

  /** A request for an upstream answered without asking it. */
  readonly upstreamSpare = ({ upstream, reason }: { upstream: string; reason: string }): void => {
    this.upstreamSpared.inc({ upstream, reason });
  };

  /** An upstream URL's circuit breaker is in state `to` (`from` equal to it at start: no transition). */
  readonly upstreamCircuit = ({ upstream, url, from, to }: { upstream: string; url: string; from: string; to: 'closed' | 'half-open' | 'open' }): void => {
    this.circuitState.set({ upstream, url }, { closed: 0, 'half-open': 1, open: 2 }[to]);
    if (from !== to) this.circuitTransitions.inc({ upstream, url, to });
  };

  /** An upstream URL is held off until `until` (ms since the epoch; 0: not held). */
  readonly upstreamRateLimited = ({ upstream, url, until }: { upstream: string; url: string; until: number }): void => {
    this.rateLimitedUntil.set({ upstream, url }, Math.ceil(until / 1000));
  };

  readonly upstreamConnectionsNow = ({ upstream, active, queued }: { upstream: string; active: number; queued: number }): void => {
    this.upstreamConnections.set({ upstream, state: 'active' }, active);
    this.upstreamConnections.set({ upstream, state: 'queued' }, queued);
  };

  /** One scheduled prefetch run ended. */
  readonly prefetchRun = (run: { blobsFetched: number; blobsPresent: number; bytesFetched: number; failures: number }): void => {
    this.prefetchRuns.inc({ result: run.failures > 0 ? 'failed' : 'ok' });
    this.prefetchBlobs.inc({ state: 'fetched' }, run.blobsFetched);
    this.prefetchBlobs.inc({ state: 'present' }, run.blobsPresent);
    this.prefetchBytes.inc(run.bytesFetched);
    this.prefetchFailures.inc(run.failures);
    if (run.failures === 0) this.prefetchLastSuccess.set(Date.now() / 1000);
  };

  /** A body chunk received from an upstream, after the bandwidth cap let it through. */
  readonly upstreamReceivedNow = ({ upstream, bytes, throttledMs }: { upstream: string; bytes: number; throttledMs: number }): void => {
    this.upstreamReceived.inc({ upstream }, bytes);
    if (throttledMs > 0) this.upstreamThrottled.inc({ upstream }, throttledMs / 1000);
  };

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.requests.text()}`;
  }
}
