import { Hono } from 'hono';
import { matchEndpoint } from '../oci/endpoints.ts';
import type { Router } from './router.ts';

/**
 * Wraps the registry's app with what only HTTP carries: containerd's `?ns=<host>`, the upstream the
 * name belongs to, echoed in `OCI-Namespace`.
 */
export function mirrorApp(inner: Hono, router: Router): Hono {
  const app = new Hono();
  app.all('*', async (c) => {
    let request = c.req.raw;
    const ns = c.req.query('ns');
    const upstream = ns === undefined ? undefined : router.byNamespace(ns);
    // Only reads are rewritten: pushes are refused in mirrored namespaces anyway, and re-wrapping a
    // streaming request body is not portable across runtimes.
    if (upstream && (request.method === 'GET' || request.method === 'HEAD')) {
      const url = new URL(request.url);
      // `<prefix>/<name>` routes to the upstream; a name already under its prefix is left alone.
      // Whatever the endpoint, the name comes first, so the prefix goes right after `/v2/`.
      const rest = url.pathname.slice('/v2/'.length);
      if (matchEndpoint(url.pathname)?.params.name !== undefined && !rest.startsWith(`${upstream.prefix}/`)) {
        url.pathname = `/v2/${upstream.prefix}/${rest}`;
        request = new Request(url, request);
      }
    }
    const res = await inner.fetch(request, c.env);
    if (!upstream || ns === undefined) return res;
    try {
      res.headers.set('OCI-Namespace', ns);
    } catch {
      // A response whose headers are immutable (sent natively by the runtime) goes out as it is.
    }
    return res;
  });
  return app;
}
