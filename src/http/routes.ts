import { Hono, type Context } from 'hono';
import { matchEndpoint, type Endpoint } from '../oci/endpoints.ts';
import { OciError } from '../oci/errors.ts';
import type { Registry } from '../registry/registry.ts';
import { deleteBlob, getBlob } from './blobs.ts';
import { errorResponse, toOciError } from './errors.ts';
import { catalog, listReferrers, listTags } from './listings.ts';
import { deleteManifest, getManifest, putManifest } from './manifests.ts';
import '../observability/context.ts';
import type { HttpOptions } from './options.ts';
import { apiVersion, json } from './responses.ts';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.ts';

type Handler = (c: Context, registry: Registry, options: HttpOptions) => Promise<Response>;

export const notFound = (c: Context): Response => errorResponse(c, new OciError('UNSUPPORTED', 'no such endpoint', { status: 404 }));

/** Each endpoint of the spec's table and the methods it answers. */
const handlers: Record<Endpoint, Partial<Record<string, Handler>>> = {
  base: { GET: async (c) => json(c, {}) },
  catalog: { GET: catalog },
  tags: { GET: listTags },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  referrers: { GET: listReferrers },
};

/**
 * The `/v2/` API of the distribution spec. One route takes every `/v2/` path and the endpoint
 * table (src/oci/endpoints.ts) picks the handler: repository names hold slashes, and Hono can only
 * express that with a regex parameter that keeps it on its slowest router (~16 µs per request).
 */
export function v2Routes(registry: Registry, options: HttpOptions, log: (e: unknown, c: Context) => void): Hono {
  const app = new Hono();
  app.get('/v2', () => new Response(null, { status: 301, headers: { ...apiVersion, Location: '/v2/' } }));
  app.all('/v2/*', (c) => {
    const match = matchEndpoint(c.req.path);
    if (!match) return notFound(c);
    c.set('endpoint', match);
    const methods = handlers[match.endpoint];
    const handler = methods[c.req.method] ?? (c.req.method === 'HEAD' ? methods.GET : undefined);
    if (!handler) throw new OciError('UNSUPPORTED', 'method not allowed on this endpoint', { headers: { Allow: Object.keys(methods).join(', ') } });
    return handler(c, registry, options);
  });
  app.onError((err, c) => {
    const e = toOciError(err);
    if (e.status >= 500) log(err, c);
    return errorResponse(c, e);
  });
  return app;
}
