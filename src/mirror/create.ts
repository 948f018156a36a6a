import type { Hono } from 'hono';
import type { MirrorRetention } from '../maintenance/start.ts';
import type { SingleFlight } from '../coordination/types.ts';
import type { StoredRegistry } from '../registry/registry.ts';
import { mirrorApp } from './http.ts';
import { MirrorRegistry } from './registry.ts';
import { Router } from './router.ts';
import type { MirrorOptions } from './schema.ts';
import { Upstream, type UpstreamObserver } from './upstream.ts';
import { UsageLog } from './usage.ts';

export interface Mirror {
  registry: MirrorRegistry;
  /** The app with `?ns=` routing around the registry's routes. */
  wrap(app: Hono): Hono;
  /** The cache size policy for maintenance to run, when `mirror.retention` sets one. */
  retention: MirrorRetention | undefined;
  /** Closes the upstreams' connection pools (after the requests in flight). */
  close(): Promise<void>;
}

/**
 * The mirror around `store` for a configuration, or undefined when it names no upstream (a plain
 * push registry). With `flights`, replicas fetch each digest once for the whole fleet.
 */
export function createMirror(options: MirrorOptions, store: StoredRegistry, observe?: UpstreamObserver, flights?: SingleFlight): Mirror | undefined {
  if (options.upstreams.length === 0) return undefined;
  const upstreams = options.upstreams.map((u) => new Upstream(u, options.timeouts, observe));
  const router = new Router(upstreams, options.default, options.local);
  const usage = new UsageLog();
  const registry = new MirrorRegistry(store, router, options.maxManifestBytes, usage, flights);
  const { maxAge, maxSize, interval } = options.retention;
  const retention =
    maxAge > 0 || maxSize > 0
      ? { usage, mirrored: (name: string) => router.stores(name), policy: { maxAgeMs: maxAge, maxBytes: maxSize }, everyMs: interval }
      : undefined;
  return {
    registry,
    wrap: (app) => mirrorApp(app, router),
    retention,
    close: async () => {
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}
