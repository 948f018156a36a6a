import type { Hono } from 'hono';
import { createApp } from './app.ts';
import type { Auth } from './auth/create.ts';
import { withCache, type Trust } from './cache/driver.ts';
import { createCoordination } from './coordination/create.ts';
import type { Coordination } from './coordination/types.ts';
import type { Mirror } from './mirror/create.ts';
import { Notifier } from './events/notifier.ts';
import { withEvents } from './events/registry.ts';
import { parseConfig, type Config, type ConfigInput } from './schema.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { MaintenanceHistory } from './maintenance/history.ts';
import { maintenanceFor } from './maintenance/start.ts';
import { FleetLock } from './registry/fleet-lock.ts';
import { ImmutableTags, withImmutableTags } from './registry/immutable.ts';
import { recordingPulls } from './registry/usage.ts';
import { Quotas, withQuotas } from './registry/quotas.ts';
import { keyKind, repositoryOfKey, StoredRegistry, type Registry } from './registry/registry.ts';
import { Metrics } from './observability/metrics.ts';
import { telemetryFor } from './observability/otel/start.ts';
import { instrumented } from './storage/instrumented.ts';
import { createStorage } from './storage/create.ts';
import type { RequestEdge } from './runtime/contract.ts';
import { MirrorActivity } from './ui/activity.ts';

export { ConfigError, loadConfig, parseConfig, type Config, type ConfigInput } from './schema.ts';
export type { Duration } from './config/duration.ts';
export type { Driver, ObjectInfo } from './storage/driver.ts';
export { StorageError, type StorageErrorKind } from './storage/errors.ts';
export { OciError, type ErrorCode } from './oci/errors.ts';
export { StoredRegistry, type Registry } from './registry/registry.ts';
export type { Logger } from './observability/log.ts';
export type { ConnectionLimits, FastPaths, FileRange, FileResponder, FileStat, RequestEdge, Runtime, RunningServer, ServeOptions, StatSync } from './runtime/contract.ts';

export interface BerthRegistry {
  /** The Hono app serving `/v2/...`; mount it in another Hono app or serve it as it is. */
  app: Hono;
  registry: Registry;
  config: Config;
  /** Resolves once storage (and auth's keys and users) are usable; rejects with the reason when not. */
  ready: Promise<void>;
  /** Where the data lives, for logs and messages. */
  storage: string;
  /** The registry's metrics (served at /metrics, or on `metrics.listen`). */
  metrics: Metrics;
  /**
   * Stops what the registry started: maintenance (its timers and the pass running, which is cut
   * short), then writes the pull times still in memory; stops webhook deliveries; the mirror's upstream connections, the
   * storage client; then sends the telemetry still pending. Until then the process stays alive.
   */
  close(): Promise<void>;
}

/**
 * Builds a registry from a configuration (defaults fill what is left out) and, once storage is
 * ready, starts the maintenance the configuration asks for (upload purge, pull times, `gc.interval`,
 * retention rules, mirror retention). Quotas, immutable tags and pull recording wrap the registry HTTP
 * serves (the mirror's names pass through them: it has its own), and events wrap them all (mirror
 * fills included), so a refused write raises none. The returned app knows of the
 * runtime serving it only what `opts.runtime` tells it (src/runtime/contract.ts): the client address
 * of a request, for auth's per-address throttle, and fast paths.
 */
export async function createRegistry(input: ConfigInput | Config = {}, opts: { logger?: Logger; runtime?: RequestEdge } = {}): Promise<BerthRegistry> {
  const config = parseConfig(input);
  const storage = await createStorage(config.storage, { statSync: opts.runtime?.fastPaths?.statSync });
  const metrics = new Metrics();
  const baseLogger = opts.logger ?? createLogger(config.log.level);
  const telemetry = telemetryFor(config.otel, { logger: baseLogger, metricsText: () => metrics.text(), keyKind });
  const logger = telemetry ? telemetry.logger(baseLogger) : baseLogger;
  const coordination = createCoordination(config.coordination, { logger, metrics });
  // The LRU sits in front of storage; the mirror decorates the registry and wraps the app when
  // upstreams are configured.
  const cache = { maxBytes: config.cache.maxBytes, trust: cacheTrust(config, coordination), observe: cacheObserver(metrics) };
  const stored = new StoredRegistry(withCache(instrumented(storage.driver, metrics), cache), { shared: config.storage.s3 !== undefined });
  // With the UI on, the mirror's upstream requests are also counted per upstream for its mirror page.
  const activity = config.ui.enabled && config.mirror.upstreams.length > 0 ? new MirrorActivity() : undefined;
  const observe: typeof metrics.upstreamRequest = activity
    ? (e) => {
        metrics.upstreamRequest(e);
        activity.requested(e);
      }
    : metrics.upstreamRequest;
  // The mirror and its HTTP client are loaded only when an upstream is configured.
  const mirror: Mirror | undefined =
    config.mirror.upstreams.length > 0
      ? (await import('./mirror/create.ts')).createMirror(config.mirror, stored, {
          requested: observe,
          spared: metrics.upstreamSpare,
          circuit: metrics.upstreamCircuit,
          rateLimited: metrics.upstreamRateLimited,
          connections: metrics.upstreamConnectionsNow,
          received: metrics.upstreamReceivedNow,
          logger,
          referrersFallback: (upstream) => metrics.referrersFallbacks.inc({ upstream }),
          prefetched: metrics.prefetchRun,
        }, coordination?.flights)
      : undefined;
  // Mirrored names are the mirror's: it notes their pulls itself and refuses writes to them.
  const routed = mirror ? (name: string): boolean => mirror.registry.router.route(name) !== undefined : undefined;
  const immutable = new ImmutableTags(config.tags.immutable);
  const events = config.events.webhooks.length > 0 ? new Notifier(config.events, metrics.eventDelivery, logger) : undefined;
  // Immutable tags and quotas check, then write: one turn per repository or prefix, fleet-wide with Redis.
  const turns = new FleetLock(coordination?.flights);
  const quotas = new Quotas(config.quotas.limits, stored.inventory, {
    recountMs: config.quotas.recountInterval,
    // On S3 other replicas push too; on local disk this process is the only one that does.
    shared: config.storage.s3 !== undefined,
    lock: turns,
    observe: (u) => {
      metrics.quotaLimit.set({ prefix: u.prefix }, u.limitBytes);
      if (u.usedBytes !== undefined) metrics.quotaUsed.set({ prefix: u.prefix }, u.usedBytes);
    },
  });
  const guarded = withQuotas(withImmutableTags(recordingPulls(mirror?.registry ?? stored, stored.pulls, routed), immutable, stored.tags, turns, routed), quotas, routed);
  const registry: Registry = withEvents(guarded, events);
  const history = config.ui.enabled ? new MaintenanceHistory() : undefined;
  const maintenance = maintenanceFor(stored.inventory, config, {
    logger,
    metrics,
    pulls: stored.pulls,
    immutable,
    retention: mirror?.retention,
    mirrored: mirror && ((name) => mirror.registry.router.stores(name)),
    history,
    deleted:
      events &&
      ((d) =>
        events.raise(d.tag === undefined ? 'berth.manifest.deleted' : 'berth.tag.deleted', {
          repository: d.repository,
          ...(d.tag === undefined ? {} : { tag: d.tag }),
          ...(d.digest === undefined ? {} : { digest: d.digest }),
          rule: d.rule,
          reason: d.reason,
        })),
  });
  // Token signing and password hashing are loaded only when access control is on.
  const created: Auth | undefined =
    config.auth.mode === 'none'
      ? undefined
      : (await import('./auth/create.ts')).createAuth(config.auth, config.storage.fs?.root, logger, opts.runtime?.clientAddress, coordination);
  const auth = created && telemetry ? { ...created, gate: telemetry.gate(config.auth.mode, created.gate) } : created;
  const inner = createApp(registry, config, {
    logger,
    metrics,
    readiness: storage.check,
    fastPaths: opts.runtime?.fastPaths,
    auth,
    stored,
    history,
    traceRequests: telemetry?.requests,
    mirror: mirror && activity ? { router: mirror.registry.router, activity } : undefined,
    quotas: quotas.any ? quotas : undefined,
  });
  const app = mirror ? mirror.wrap(inner) : inner;
  // Auth's key may be generated into the data directory, so it follows storage.
  const usable = auth ? storage.ready.then(() => auth.ready) : storage.ready;
  const ready = telemetry ? Promise.all([usable, telemetry.ready]).then(() => undefined) : usable;
  // Storage that never becomes usable is reported by whoever awaits `ready`; nothing runs on it.
  storage.ready.then(
    () => {
      maintenance.scheduler.start();
      mirror?.start();
    },
    () => undefined,
  );
  const close = async (): Promise<void> => {
    await maintenance.scheduler.close();
    // What was pulled since the last flush, so the times survive the restart.
    await maintenance.flushPulls();
    await events?.close();
    await mirror?.close();
    await auth?.close();
    await coordination?.close();
    storage.close();
    // Last, so that what the others logged or traced while stopping is sent too.
    await telemetry?.close();
  };
  return { app, registry, config, ready, storage: storage.describe, metrics, close };
}

/**
 * How far the cache trusts a tag or link it holds (src/cache/driver.ts): as `cache.ttl` says when
 * set; else exact everywhere: on local disk this process is the only writer, on S3 every read asks
 * Redis (when configured) or storage whether it changed.
 */
function cacheTrust(config: Config, coordination: Coordination | undefined): Trust {
  const { ttl } = config.cache;
  if (ttl !== undefined) return ttl > 0 ? { mode: 'ttl', ms: ttl } : { mode: 'owner' };
  if (!config.storage.s3) return { mode: 'owner' };
  return coordination ? { mode: 'versions', versions: coordination.versions, scopeOf: repositoryOfKey } : { mode: 'storage' };
}

/** Counts the cache's answers on `berth_cache_reads_total`, one child per result so a read costs no label lookup. */
function cacheObserver(metrics: Metrics): (result: 'hit' | 'miss' | 'uncached') => void {
  const children = { hit: metrics.cacheReads.labels('hit'), miss: metrics.cacheReads.labels('miss'), uncached: metrics.cacheReads.labels('uncached') };
  return (result) => children[result].inc();
}
