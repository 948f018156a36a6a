/**
 * The one piece of OpenTelemetry support every registry loads: it decides from the configuration
 * whether telemetry is on and, only then, imports it. Off (the default) costs nothing but this
 * check; on, the import finishes before `ready` resolves, so no served request goes untraced.
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger, LogFields } from '../log.ts';
import { tracing } from './hooks.ts';
import { otelTargets, type OtelOptions } from './schema.ts';
import type { Telemetry, TelemetryParts } from './telemetry.ts';

export interface TelemetryHandle {
  /** Opens the server span of each request (first of the app's middleware). */
  requests: MiddlewareHandler;
  /** An access gate whose decisions become spans. */
  gate(mode: string, gate: MiddlewareHandler): MiddlewareHandler;
  /** The logger with `trace_id` and `span_id` on every line written inside a traced request. */
  logger(logger: Logger): Logger;
  /** Resolves once telemetry is running; rejects with the reason it cannot start. */
  ready: Promise<void>;
  close(): Promise<void>;
}

function withTraceIds(logger: Logger): Logger {
  const fields = (given: LogFields | undefined): LogFields | undefined => {
    const ids = tracing?.ids();
    return ids ? { ...given, ...ids } : given;
  };
  return {
    debug: (msg, f) => logger.debug(msg, fields(f)),
    info: (msg, f) => logger.info(msg, fields(f)),
    warn: (msg, f) => logger.warn(msg, fields(f)),
    error: (msg, f) => logger.error(msg, fields(f)),
  };
}

/** Telemetry for `options`, or undefined when it names nowhere to send anything. */
export function telemetryFor(options: OtelOptions, parts: TelemetryParts): TelemetryHandle | undefined {
  const targets = otelTargets(options);
  if (!targets.traces && !targets.metrics) return undefined;
  let running: Telemetry | undefined;
  const ready = import('./telemetry.ts').then((m) => {
    running = m.startTelemetry(options, targets, parts);
  });
  // Reported by whoever awaits `ready`.
  ready.catch(() => undefined);
  return {
    requests: (c, next) => (running?.requests ? running.requests(c, next) : next()),
    gate: (mode, gate) => {
      let traced: MiddlewareHandler | undefined;
      return (c, next) => {
        if (!running) return gate(c, next);
        traced ??= running.gate(mode, gate);
        return traced(c, next);
      };
    },
    logger: withTraceIds,
    ready,
    close: async () => {
      await ready.catch(() => undefined);
      await running?.close();
    },
  };
}
