import { Hono, type Handler } from 'hono';
import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { sendText } from './context.ts';
import type { Metrics } from './metrics.ts';

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface MetricsAccess {
  /** Required as `Authorization: Bearer <token>` when set. */
  token: string | undefined;
  /** Without a token: whether anyone may read them; when not, every scrape gets 403. */
  open: boolean;
}

const text = { 'Content-Type': 'text/plain; charset=UTF-8' };

/** `respond` for those `access` lets through: the operator's read-only endpoints (/metrics, /quotas) share one gate. */
export function behindMetricsAccess(access: MetricsAccess, respond: Handler): Handler {
  const { token, open } = access;
  return async (c, next) => {
    if (token !== undefined) {
      const given = c.req.header('Authorization')?.replace(/^Bearer\s+/i, '') ?? '';
      if (!same(given, token)) return sendText(c, 401, { ...text, 'WWW-Authenticate': 'Bearer realm="metrics"' }, 'unauthorized');
    } else if (!open) {
      return sendText(c, 403, text, 'metrics are not public\n');
    }
    return respond(c, next);
  };
}

/** GET /metrics in the Prometheus text format, for those `access` lets through. */
export function metricsHandler(metrics: Metrics, access: MetricsAccess): Handler {
  return behindMetricsAccess(access, async (c) => sendText(c, 200, { 'Content-Type': metrics.contentType }, await metrics.text()));
}

/** A separate app serving only /metrics, for `metrics.listen` (its own address: open unless a token is set). */
export function metricsApp(metrics: Metrics, token: string | undefined): Hono {
  const app = new Hono();
  app.get('/metrics', metricsHandler(metrics, { token, open: true }));
  return app;
}
