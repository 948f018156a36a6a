import type { Hono } from 'hono';
import { errorFields, type Logger } from '../observability/log.ts';
import { Tags } from '../registry/tags.ts';
import type { Driver } from '../storage/driver.ts';
import { mirrorApp } from './http.ts';
import { MirrorRegistry } from './registry.ts';
import { sweepMirrored, UsageLog } from './retention.ts';
import { Router } from './router.ts';
import type { MirrorOptions } from './schema.ts';
import { Upstream, type UpstreamObserver } from './upstream.ts';
import { currentOutcome } from './context.ts';

export interface Mirror {
  registry: MirrorRegistry;
  /** How the mirror answered the request being served (`hit`, `miss`, ...), for logs and metrics. */
  outcome: () => string | undefined;
  /** The app with `?ns=` routing and stale warnings around the registry's routes. */
  wrap(app: Hono): Hono;
  close(): Promise<void>;
}

/** The mirror for a configuration, or undefined when it names no upstream (a plain push registry). */
export function createMirror(options: MirrorOptions, driver: Driver, logger?: Logger, observe?: UpstreamObserver): Mirror | undefined {
  if (options.upstreams.length === 0) return undefined;
  const upstreams = options.upstreams.map((u) => new Upstream(u, options.timeouts, observe));
  const router = new Router(upstreams, options.default, options.local);
  const usage = new UsageLog();
  const registry = new MirrorRegistry(driver, router, options.maxManifestBytes, usage);
  const { maxAge, maxSize } = options.retention;
  const stopRetention = maxAge > 0 || maxSize > 0 ? startRetention(driver, router, usage, options.retention, logger) : () => undefined;
  return {
    registry,
    outcome: currentOutcome,
    wrap: (app) => mirrorApp(app, router),
    close: async () => {
      stopRetention();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}

/** Runs the retention sweep (expiry, then freeing bytes) every interval; a failed sweep is logged and tried again next time. */
function startRetention(driver: Driver, router: Router, usage: UsageLog, retention: MirrorOptions['retention'], logger?: Logger): () => void {
  // Plain Tags: the mirror's own refuse deletes in mirrored repositories, which is what expiry does.
  const tags = new Tags(driver);
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepMirrored(driver, tags, router, usage, { maxAgeMs: retention.maxAge, maxBytes: retention.maxSize })
      .then((report) => logger?.info('mirror retention sweep', { ...report }))
      .catch((e: unknown) => logger?.warn('mirror retention sweep failed', errorFields(e)))
      .finally(() => (running = false));
  }, retention.interval);
  // Never keeps the process alive by itself.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
