import type { Metrics } from '../observability/metrics.ts';
import { tracing } from '../observability/otel/hooks.ts';
import type { Driver } from './driver.ts';

type Operation = Exclude<keyof Driver, 'name' | 'localPath' | 'url' | 'sweep'>;
const operations: readonly Operation[] = ['get', 'put', 'create', 'stat', 'read', 'delete', 'deletePrefix', 'list', 'append', 'commit'];
/** Operations only some drivers have. */
const optional: readonly Operation[] = ['open'];

/**
 * The same driver, timing every operation and counting failures. `read` is timed to the stream's
 * start (bytes flowing are measured by the HTTP layer), `append` to its end. In a traced request
 * each operation is a span too, named by the kind of its key (a commit's by its destination).
 */
export function instrumented(driver: Driver, metrics: Metrics): Driver {
  const wrapped: Record<string, unknown> = { name: driver.name };
  for (const op of [...operations, ...optional.filter((o) => driver[o] !== undefined)]) {
    const fn = driver[op] as (...args: unknown[]) => Promise<unknown>;
    wrapped[op] = async (...args: unknown[]) => {
      const end = metrics.storageDuration.startTimer({ driver: driver.name, operation: op });
      const span = tracing?.storage(driver.name, op, String(op === 'commit' ? args[1] : args[0]));
      try {
        return await fn.apply(driver, args);
      } catch (e) {
        metrics.storageErrors.inc({ driver: driver.name, operation: op });
        span?.end(e);
        throw e;
      } finally {
        end();
        span?.end();
      }
    };
  }
  if (driver.localPath) wrapped.localPath = driver.localPath.bind(driver);
  // Signing a URL is local work, not a storage operation.
  if (driver.url) wrapped.url = driver.url.bind(driver);
  if (driver.sweep) wrapped.sweep = driver.sweep.bind(driver);
  return wrapped as unknown as Driver;
}
