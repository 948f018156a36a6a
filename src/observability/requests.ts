import type { Context, MiddlewareHandler } from 'hono';
import { matchEndpoint } from '../oci/endpoints.ts';
import './context.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

const isUpload = (c: Context): boolean =>
  c.req.method === 'PATCH' || (c.req.method === 'PUT' && c.req.path.includes('/blobs/uploads/')) || (c.req.method === 'POST' && c.req.query('digest') !== undefined);

const lengthOf = (v: string | null | undefined): number => {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

/** The request body's declared length; a GET or HEAD has none, and reading a header is not free on every runtime. */
export const bytesIn = (c: Context): number => (c.req.method === 'GET' || c.req.method === 'HEAD' ? 0 : lengthOf(c.req.header('Content-Length')));

/**
 * The response body's length where the handler recorded it (src/observability/context.ts
 * sendBytes), without reading the response back: every response berth builds in memory does, so
 * one without is bodiless or was streamed natively with its length declared.
 */
export function bytesOut(c: Context): number {
  if (c.req.method === 'HEAD') return 0;
  const sent = c.get('sent');
  if (sent) return sent.length;
  return c.req.path.startsWith('/v2/') ? 0 : lengthOf(c.res.headers.get('Content-Length'));
}

/**
 * One JSON log line and the HTTP metrics per request. Logs carry the path without its query and
 * never a header, so no credential or token can reach them.
 */
export function observeRequests(
  metrics: Metrics,
  logger: Logger,
  logRequests: boolean,
  /** Told how the mirror answered each request it took part in (the UI's per-upstream counts). */
  onMirrorAnswer?: (repository: string, outcome: string) => void,
): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const upload = isUpload(c);
    if (upload) metrics.uploadsInFlight.inc();
    try {
      await next();
    } finally {
      if (upload) metrics.uploadsInFlight.dec();
    }
    const seconds = (performance.now() - started) / 1000;
    // A request refused before the router (access control) still names its endpoint and repository.
    const endpoint = c.get('endpoint') ?? matchEndpoint(c.req.path);
    const route = endpoint?.route ?? 'other';
    const method = c.req.method;
    const status = c.get('sent')?.status ?? c.res.status;
    const received = bytesIn(c);
    const sent = bytesOut(c);
    const upstream = c.get('upstream');
    metrics.requestDone({ route, method, status, seconds, bytesIn: received, bytesOut: sent, upstream });
    const repository = endpoint?.params.name;
    if (onMirrorAnswer && upstream !== undefined && repository !== undefined) onMirrorAnswer(repository, upstream);
    if (!logRequests) return;
    logger.info('request', {
      method,
      path: c.req.path,
      route,
      status,
      bytesIn: received,
      bytesOut: sent,
      ms: Math.round(seconds * 1000 * 10) / 10,
      repository: endpoint?.params.name,
      user: c.get('access')?.user ?? c.get('user'),
      upstream,
    });
  };
}
