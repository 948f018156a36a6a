import { Hono } from 'hono';
import type { Config } from './config/schema.ts';
import { v2Routes } from './http/routes.ts';
import { errorFields, type Logger } from './observability/log.ts';
import type { Registry } from './registry/registry.ts';

/** Composes the Hono app: the headers every response carries, then the v2 API. */
export function createApp(registry: Registry, config: Config, logger: Logger): Hono {
  const app = new Hono();
  app.use('/v2/*', async (c, next) => {
    await next();
    const { headers, body, status } = c.res;
    headers.set('Docker-Distribution-API-Version', 'registry/2.0');
    // An empty 201/202 would otherwise go out chunked; say plainly that nothing follows.
    if (body === null && status !== 204 && status !== 304 && c.req.method !== 'HEAD' && !headers.has('Content-Length')) {
      headers.set('Content-Length', '0');
    }
  });
  app.get('/healthz', (c) => c.text('ok'));
  const options = {
    delete: config.delete,
    maxManifestBytes: config.manifests.maxSize,
    chunkMinLength: config.uploads.chunkMinLength,
  };
  app.route(
    '/',
    v2Routes(registry, options, (e, c) => logger.error('request failed', { method: c.req.method, path: c.req.path, ...errorFields(e) })),
  );
  return app;
}
