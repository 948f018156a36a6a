import type { Hono } from 'hono';
import type { MirrorRetention } from '../maintenance/start.ts';
import type { SingleFlight } from '../coordination/types.ts';
import type { StoredRegistry } from '../registry/registry.ts';
import { mirrorApp } from './http.ts';
import { prefetchPins, Prefetcher, schedulePrefetch, type PrefetchRun } from './prefetch.ts';
import { MirrorRegistry } from './registry.ts';
import { Router } from './router.ts';
import type { MirrorOptions } from './schema.ts';
import { Upstream, type UpstreamEvents } from './upstream.ts';
import { UsageLog } from './usage.ts';

export interface Mirror {
  registry: MirrorRegistry;
  /** The app with `?ns=` routing around the registry's routes. */
  wrap(app: Hono): Hono;
  /** The cache size policy for maintenance to run, when `mirror.retention` sets one. */
  retention: MirrorRetention | undefined;
  /** `mirror.prefetch`'s images, fetched through `registry` (by `berth mirror prefetch`, or on schedule). */
  prefetcher: Prefetcher;
  /** Starts the scheduled prefetch, when `mirror.prefetch.interval` asks for one (once storage is ready). */
  start(): void;
  /** Stops the scheduled prefetch, then closes the upstreams' connection pools (after the requests in flight). */
  close(): Promise<void>;
}

/** What the mirror tells its owner: what its upstreams do, and reads through the referrers tag schema. */
export interface MirrorEvents extends UpstreamEvents {
  /** An upstream without the referrers API was read through the referrers tag schema. */
  referrersFallback?(upstream: string): void;
  /** A scheduled prefetch run ended. */
  prefetched?(run: PrefetchRun): void;
}

/**
 * The mirror around `store` for a configuration, or undefined when it names no upstream (a plain
 * push registry). `events` hears what the upstreams do (metrics, the UI, the log). With `flights`,
 * replicas fetch each digest once for the whole fleet.
 */
export function createMirror(options: MirrorOptions, store: StoredRegistry, events: MirrorEvents = {}, flights?: SingleFlight): Mirror | undefined {
  if (options.upstreams.length === 0) return undefined;
  const upstreams = options.upstreams.map((u) => new Upstream(u, options.timeouts, events));
  const router = new Router(upstreams, options.default, options.local);
  const usage = new UsageLog(store.pulls);
  const registry = new MirrorRegistry(store, router, options.maxManifestBytes, usage, events.referrersFallback, flights);
  const { maxAge, maxSize, interval } = options.retention;
  const retention =
    maxAge > 0 || maxSize > 0
      ? {
          usage,
          mirrored: (name: string) => router.stores(name),
          policy: { maxAgeMs: maxAge, maxBytes: maxSize },
          everyMs: interval,
          pinned: options.prefetch.images.length > 0 ? prefetchPins(options.prefetch.images, (name) => router.route(name)?.local) : undefined,
        }
      : undefined;
  const prefetcher = new Prefetcher(registry, options.prefetch);
  const schedule = schedulePrefetch(prefetcher, options.prefetch.interval, events.logger, events.prefetched);
  return {
    registry,
    wrap: (app) => mirrorApp(app, router),
    retention,
    prefetcher,
    start: () => schedule.start(),
    close: async () => {
      await schedule.close();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}
