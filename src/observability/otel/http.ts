import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import '../context.ts';
import { bytesIn, bytesOut } from '../requests.ts';
import { parseTraceparent } from './ids.ts';
import { tracingHooks, type RecordingSpan, type Tracer } from './tracer.ts';

/**
 * The route a request took as a pattern of bounded cardinality: the endpoint table's for `/v2/`
 * (`/v2/<name>/manifests/<reference>`), Hono's for the rest (`/token`), `other` for no route.
 */
function routeOf(c: Context): string {
  const endpoint = c.get('endpoint');
  if (endpoint) return endpoint.route;
  const path = routePath(c, -1);
  return path === '' || path.endsWith('*') ? 'other' : path;
}

function finish(span: RecordingSpan, c: Context): void {
  const method = c.req.method;
  const route = routeOf(c);
  const status = c.get('sent')?.status ?? c.res.status;
  span.name = `${method} ${route}`;
  span.set('http.request.method', method);
  span.set('http.route', route);
  span.set('http.response.status_code', status);
  span.set('berth.repository', c.get('endpoint')?.params.name);
  span.set('berth.mirror.outcome', c.get('upstream'));
  span.set('http.request.body.size', bytesIn(c));
  span.set('http.response.body.size', bytesOut(c));
  // Only a server error is the server span's failure; a 4xx is the client's.
  span.end(status >= 500 ? `HTTP ${status}` : undefined);
}

/**
 * One server span per request, continuing the caller's `traceparent`, current while the request is
 * handled so that what the layers below open (auth, storage, upstream) are its children. It ends
 * when the response's headers are ready, as `berth_http_request_duration_seconds` does; a body
 * still streaming (a blob) is timed by the spans of the work that feeds it.
 */
export function traceRequests(tracer: Tracer): MiddlewareHandler {
  return async (c, next) => {
    const parent = parseTraceparent(c.req.header('traceparent'));
    const span = tracer.startRequest(c.req.method, parent);
    try {
      await tracer.runRequest(span, parent, next);
    } finally {
      if (span) finish(span, c);
    }
  };
}

/** What an access gate's answer means, by the status it refused with. */
const refusal = (status: number): string => (status === 401 ? 'challenged' : status === 403 ? 'denied' : status === 429 ? 'throttled' : 'error');

/**
 * The span of an access decision: from the gate's start to its letting the request through
 * (`allowed`, with the user) or answering it (`challenged` 401, `denied` 403, `throttled` 429).
 */
export function traceGate(mode: string, gate: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    const span = tracingHooks.start('auth', 'internal');
    if (!span) return gate(c, next);
    span.set('berth.auth.mode', mode);
    let allowed = false;
    try {
      const res = await gate(c, async () => {
        allowed = true;
        span.set('berth.auth.decision', 'allowed');
        span.set('enduser.id', c.get('access')?.user);
        span.end();
        await next();
      });
      if (!allowed) {
        const status = res?.status ?? c.res.status;
        span.set('berth.auth.decision', refusal(status));
        span.set('http.response.status_code', status);
        span.end();
      }
      return res;
    } catch (e) {
      span.end(e);
      throw e;
    }
  };
}
