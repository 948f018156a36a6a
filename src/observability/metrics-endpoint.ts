import { Hono, type Handler } from 'hono';
import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import type { Metrics } from './metrics.ts';

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** GET /metrics in the Prometheus text format; with a token, only for `Authorization: Bearer <token>`. */
export function metricsHandler(metrics: Metrics, token: string | undefined): Handler {
  return async (c) => {
    if (token !== undefined) {
      const given = c.req.header('Authorization')?.replace(/^Bearer\s+/i, '') ?? '';
      if (!same(given, token)) return c.text('unauthorized', 401, { 'WWW-Authenticate': 'Bearer realm="metrics"' });
    }
    return c.body(await metrics.text(), 200, { 'Content-Type': metrics.contentType });
  };
}

/** A separate app serving only /metrics, for `metrics.listen`. */
export function metricsApp(metrics: Metrics, token: string | undefined): Hono {
  const app = new Hono();
  app.get('/metrics', metricsHandler(metrics, token));
  return app;
}
