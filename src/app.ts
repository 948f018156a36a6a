import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Auth } from './auth/create.ts';
import type { Config } from './schema.ts';
import { errorResponse, toOciError } from './http/errors.ts';
import { notFound, v2Routes } from './http/routes.ts';
import { sendText } from './observability/context.ts';
import { errorFields, type Logger } from './observability/log.ts';
import type { Registry, StoredRegistry } from './registry/registry.ts';
import type { FastPaths } from './runtime/contract.ts';
import { behindMetricsAccess, metricsHandler } from './observability/metrics-endpoint.ts';
import type { QuotaUsage } from './registry/quotas.ts';
import type { Metrics } from './observability/metrics.ts';
import { observeRequests } from './observability/requests.ts';
import type { MaintenanceHistory } from './maintenance/history.ts';
import type { MirrorActivity } from './ui/activity.ts';
import { uiRoutes } from './ui/app.ts';
import type { Router } from './mirror/router.ts';

export interface AppParts {
  logger: Logger;
  metrics: Metrics;
  /** Resolves when the registry can serve: storage reachable, writable and not full. Bounded in time (storage/create.ts). */
  readiness: () => Promise<void>;
  fastPaths?: FastPaths | undefined;
  auth?: Auth | undefined;
  /** The stored registry `registry` decorates (itself without a mirror), which the UI browses. */
  stored: StoredRegistry;
  /** This process's maintenance runs, for the web UI. */
  history?: MaintenanceHistory | undefined;
  /** Opens each request's trace span, when OpenTelemetry is on: outermost, so the request log sees it. */
  traceRequests?: MiddlewareHandler | undefined;
  /** With a mirror and the UI on: the mirror's router, and where its activity is counted for the UI. */
  mirror?: { router: Router; activity: MirrorActivity } | undefined;
  /** With `quotas.limits`: each limit's usage, for GET /quotas and the UI's storage page. */
  quotas?: { usage(count: boolean): Promise<QuotaUsage[]> } | undefined;
}

/**
 * Composes the Hono app: request logs and metrics, health, access control when on, the web UI
 * when on, then the v2 API (whose responses carry the API version header themselves:
 * src/http/responses.ts).
 */
export function createApp(registry: Registry, config: Config, parts: AppParts): Hono {
  const { logger, metrics, auth } = parts;
  const app = new Hono();
  const text = { 'Content-Type': 'text/plain; charset=UTF-8' };
  const logFailure = (e: unknown, c: Context): void => logger.error('request failed', { method: c.req.method, path: c.req.path, ...errorFields(e) });
  if (parts.traceRequests) app.use('*', parts.traceRequests);
  const { mirror } = parts;
  const onMirrorAnswer = mirror
    ? (repository: string, outcome: string): void => {
        const upstream = mirror.router.route(repository)?.upstream.name;
        if (upstream !== undefined) mirror.activity.answered(upstream, outcome);
      }
    : undefined;
  app.use('*', observeRequests(metrics, logger, config.log.requests, onMirrorAnswer));
  app.get('/healthz', (c) => sendText(c, 200, text, 'ok'));
  app.get('/readyz', async (c) => {
    try {
      await parts.readiness();
      return sendText(c, 200, text, 'ready');
    } catch (e) {
      // The log gets the detail; the probe's body says what, never where (no keys, paths, hosts).
      logger.warn('not ready', errorFields(e));
      return sendText(c, 503, text, `not ready: ${toOciError(e).message}`);
    }
  });
  // With access control on, the registry's own address is not public: metrics are too (README: Running it).
  const operatorAccess = { token: config.metrics.token, open: config.metrics.public ?? config.auth.mode === 'none' };
  if (config.metrics.enabled && config.metrics.listen === undefined) app.get('/metrics', metricsHandler(metrics, operatorAccess));
  const quotas = parts.quotas;
  // Usage per quota as JSON, for dashboards and UIs, behind the same gate as the metrics.
  if (quotas) app.get('/quotas', behindMetricsAccess(operatorAccess, async (c) => c.json({ quotas: (await quotas.usage(true)).map(quotaJson) })));
  // Access control and the token service throw OciErrors for their refusals; written here.
  app.onError((err, c) => {
    const e = toOciError(err);
    if (e.status >= 500) logFailure(err, c);
    return errorResponse(c, e);
  });
  if (auth) {
    app.use('/v2/*', auth.gate);
    app.route('/', auth.routes);
  }
  if (config.ui.enabled) app.route('/', uiRoutes({ registry, stored: parts.stored, config, logger, metrics, accounts: auth?.accounts, mirror, history: parts.history, quotas: parts.quotas }));
  const options = {
    delete: config.delete,
    maxManifestBytes: config.manifests.maxSize,
    chunkMinLength: config.uploads.chunkMinLength,
    fastPaths: parts.fastPaths ?? {},
  };
  app.notFound(notFound);
  app.route('/', v2Routes(registry, options, logFailure));
  return app;
}

/** A quota's usage as GET /quotas answers it. */
const quotaJson = (q: QuotaUsage): Record<string, unknown> => ({
  rule: q.rule,
  prefix: q.prefix,
  limitBytes: q.limitBytes,
  usedBytes: q.usedBytes ?? null,
  countedAt: q.countedAt?.toISOString() ?? null,
});
