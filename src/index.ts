import type { Hono } from 'hono';
import { createApp } from './app.ts';
import type { Auth } from './auth/create.ts';
import { millis, seconds } from './config/duration.ts';
import { withCache } from './cache/driver.ts';
import type { Mirror } from './mirror/create.ts';
import { parseConfig, type Config, type ConfigInput } from './schema.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { MaintenanceHistory } from './maintenance/history.ts';
import { maintenanceFor } from './maintenance/start.ts';
import { keyKind, StoredRegistry, type Registry } from './registry/registry.ts';
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
export type { ConnectionLimits, FastPaths, FileRange, FileResponder, RequestEdge, Runtime, RunningServer, ServeOptions } from './runtime/contract.ts';

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
   * short), the mirror's upstream connections, the storage client; then sends the telemetry still
   * pending. Until then the process stays alive.
   */
  close(): Promise<void>;
}

/**
 * Builds a registry from a configuration (defaults fill what is left out) and, once storage is
 * ready, starts the maintenance the configuration asks for (upload purge, `gc.interval`, mirror
 * retention). The returned app knows of the runtime serving it only what `opts.runtime` tells it
 * (src/runtime/contract.ts): the client address of a request, for auth's per-address throttle, and fast paths.
 */
export async function createRegistry(input: ConfigInput | Config = {}, opts: { logger?: Logger; runtime?: RequestEdge } = {}): Promise<BerthRegistry> {
  const config = parseConfig(input);
  const storage = await createStorage(config.storage);
  const metrics = new Metrics();
  const baseLogger = opts.logger ?? createLogger(config.log.level);
  const telemetry = telemetryFor(config.otel, { logger: baseLogger, metricsText: () => metrics.text(), keyKind });
  const logger = telemetry ? telemetry.logger(baseLogger) : baseLogger;
  // The LRU sits in front of storage; the mirror decorates the registry and wraps the app when
  // upstreams are configured.
  const cache = { maxBytes: config.cache.maxBytes, ttl: config.cache.ttl ?? (config.storage.s3 ? seconds(2) : millis(0)) };
  const stored = new StoredRegistry(withCache(instrumented(storage.driver, metrics), cache));
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
          logger,
          referrersFallback: (upstream) => metrics.referrersFallbacks.inc({ upstream }),
        })
      : undefined;
  const registry: Registry = mirror?.registry ?? stored;
  // Token signing and password hashing are loaded only when access control is on.
  const created: Auth | undefined =
    config.auth.mode === 'none' ? undefined : (await import('./auth/create.ts')).createAuth(config.auth, config.storage.fs?.root, logger, opts.runtime?.clientAddress);
  const auth = created && telemetry ? { ...created, gate: telemetry.gate(config.auth.mode, created.gate) } : created;
  const history = config.ui.enabled ? new MaintenanceHistory() : undefined;
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
  });
  const app = mirror ? mirror.wrap(inner) : inner;
  // Auth's key may be generated into the data directory, so it follows storage.
  const usable = auth ? storage.ready.then(() => auth.ready) : storage.ready;
  const ready = telemetry ? Promise.all([usable, telemetry.ready]).then(() => undefined) : usable;
  const maintenance = maintenanceFor(stored.inventory, config, { logger, metrics, retention: mirror?.retention, history });
  // Storage that never becomes usable is reported by whoever awaits `ready`; nothing runs on it.
  storage.ready.then(
    () => {
      maintenance.start();
      mirror?.start();
    },
    () => undefined,
  );
  const close = async (): Promise<void> => {
    await maintenance.close();
    await mirror?.close();
    await auth?.close();
    storage.close();
    // Last, so that what the others logged or traced while stopping is sent too.
    await telemetry?.close();
  };
  return { app, registry, config, ready, storage: storage.describe, metrics, close };
}
