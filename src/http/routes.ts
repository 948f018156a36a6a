import { Hono, type Context } from 'hono';
import { OciError } from '../oci/errors.ts';
import type { Registry } from '../registry/registry.ts';
import { deleteBlob, getBlob } from './blobs.ts';
import { errorResponse, toOciError } from './errors.ts';
import { catalog, listReferrers, listTags } from './listings.ts';
import { deleteManifest, getManifest, putManifest } from './manifests.ts';
import './context.ts';
import type { HttpOptions } from './options.ts';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.ts';

type Handler = (c: Context, registry: Registry, options: HttpOptions) => Promise<Response>;

// Repository names contain slashes, so the name is a greedy match validated by the handler.
const repo = '/v2/:name{.+}';

export const notFound = (c: Context): Response => errorResponse(c, new OciError('UNSUPPORTED', 'no such endpoint', { status: 404 }));

/** The `/v2/` API of the distribution spec, one route per endpoint of its table. */
export function v2Routes(registry: Registry, options: HttpOptions, log: (e: unknown, c: Context) => void): Hono {
  const app = new Hono();
  const routes: Array<[path: string, methods: Record<string, Handler>]> = [
    ['/v2/', { GET: async () => Response.json({}) }],
    ['/v2/_catalog', { GET: catalog }],
    [`${repo}/tags/list`, { GET: listTags }],
    [`${repo}/manifests/:reference`, { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest }],
    [`${repo}/blobs/uploads/`, { POST: startUpload }],
    [`${repo}/blobs/uploads`, { POST: startUpload }],
    [`${repo}/blobs/uploads/:id`, { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload }],
    [`${repo}/blobs/:digest`, { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob }],
    [`${repo}/referrers/:digest`, { GET: listReferrers }],
  ];

  app.get('/v2', (c) => c.redirect('/v2/', 301));
  for (const [path, methods] of routes) {
    const route = path.replace(repo, '/v2/<name>').replace(/:(\w+)/g, '<$1>');
    for (const [method, handler] of Object.entries(methods)) {
      app.on(method, path, (c) => {
        c.set('route', route);
        const name = c.req.param('name');
        if (name !== undefined) c.set('repository', name);
        return handler(c, registry, options);
      });
    }
    const allowed = Object.keys(methods).join(', ');
    app.all(path, () => {
      throw new OciError('UNSUPPORTED', 'method not allowed on this endpoint', { headers: { Allow: allowed } });
    });
  }
  app.onError((err, c) => {
    const e = toOciError(err);
    if (e.status >= 500) log(err, c);
    return errorResponse(c, e);
  });
  return app;
}
