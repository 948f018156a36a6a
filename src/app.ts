import { Hono } from 'hono';
import type { Config } from './config/schema.ts';
import type { FileResponder } from './http/options.ts';
import { apiVersion } from './http/responses.ts';
import { notFound, v2Routes } from './http/routes.ts';
import { errorFields, type Logger } from './observability/log.ts';
import type { Registry } from './registry/registry.ts';

/** Composes the Hono app: the headers every response carries, then the v2 API. */
export function createApp(registry: Registry, config: Config, logger: Logger, fileResponder?: FileResponder): Hono {
  const app = new Hono();
  app.use('/v2/*', async (c, next) => {
    await next();
    // Only touch headers here: reading c.res.body would turn @hono/node-server's lightweight
    // response into a full one and drop header changes made through an earlier reference.
    for (const [k, v] of Object.entries(apiVersion)) c.res.headers.set(k, v);
  });
  app.get('/healthz', (c) => c.text('ok'));
  const options = {
    delete: config.delete,
    maxManifestBytes: config.manifests.maxSize,
    chunkMinLength: config.uploads.chunkMinLength,
    fileResponder,
  };
  app.notFound(notFound);
  app.route(
    '/',
    v2Routes(registry, options, (e, c) => logger.error('request failed', { method: c.req.method, path: c.req.path, ...errorFields(e) })),
  );
  return app;
}
