import { Hono } from 'hono';
import { withNotes, type RequestNotes } from './context.ts';
import type { Router } from './router.ts';

// `/v2/<name>/<endpoint>...`: the name is everything before the last endpoint segment.
const repositoryPath = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\/(.*)$/;

/**
 * Wraps the registry's app with what only HTTP carries: containerd's `?ns=<host>` (the upstream the
 * name belongs to, echoed in `OCI-Namespace`), the client's `Accept` (read by the mirror's manifests)
 * and the `Warning` of a stale answer.
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
      const m = repositoryPath.exec(url.pathname);
      // `<prefix>/<name>` routes to the upstream; a name already under its prefix is left alone.
      if (m?.[1] && !m[1].startsWith(`${upstream.prefix}/`)) {
        url.pathname = `/v2/${upstream.prefix}/${m[1]}/${m[2]}/${m[3]}`;
        request = new Request(url, request);
      }
    }
    const accept = request.headers.get('Accept');
    const notes: RequestNotes = accept === null ? {} : { accept };
    const res = await withNotes(notes, () => inner.fetch(request, c.env));
    try {
      if (upstream && ns !== undefined) res.headers.set('OCI-Namespace', ns);
      if (notes.warning) res.headers.set('Warning', notes.warning);
    } catch {
      // A response whose headers are immutable (sent natively by the runtime) goes out as it is.
    }
    return res;
  });
  return app;
}
