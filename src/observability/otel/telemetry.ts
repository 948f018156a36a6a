/**
 * OpenTelemetry, switched on: imported only when a registry's configuration names an endpoint
 * (./start.ts), so a registry without it never loads this code.
 */
import type { MiddlewareHandler } from 'hono';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';
import type { Logger } from '../log.ts';
import { Batcher } from './batch.ts';
import { setTracing } from './hooks.ts';
import { traceGate, traceRequests } from './http.ts';
import { encodeMetrics } from './metrics.ts';
import { encodeSpans, keyValues, post, redact, scope, type Destination, type Resource } from './otlp.ts';
import { createSampler, neverSamplesRoots } from './sampler.ts';
import type { OtelOptions } from './schema.ts';
import { Tracer, tracingHooks, type FinishedSpan } from './tracer.ts';

export interface TelemetryParts {
  logger: Logger;
  /** The Prometheus text /metrics serves: what the metric exports are read from. */
  metricsText: () => Promise<string>;
  /** What a storage key names (blob, tag, upload, ...), recorded instead of the key. */
  keyKind: (key: string) => string;
}

export interface Telemetry {
  /** The server span of each request; undefined when traces are off. */
  requests: MiddlewareHandler | undefined;
  /** An access gate with the span of its decision. */
  gate(mode: string, gate: MiddlewareHandler): MiddlewareHandler;
  /** Sends what is pending (spans, a last metrics export) and stops. */
  close(): Promise<void>;
}

function runtime(): { name: string; version: string } {
  const v = process.versions as Record<string, string | undefined>;
  if (v.bun) return { name: 'bun', version: v.bun };
  if (v.deno) return { name: 'deno', version: v.deno };
  return { name: 'nodejs', version: process.versions.node };
}

function resourceOf(o: OtelOptions): Resource {
  const rt = runtime();
  return {
    attributes: keyValues({
      'service.instance.id': randomUUID(),
      'host.name': hostname(),
      'process.pid': process.pid,
      'process.runtime.name': rt.name,
      'process.runtime.version': rt.version,
      'telemetry.sdk.name': scope.name,
      'telemetry.sdk.version': scope.version,
      ...o.resourceAttributes,
      // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES (the specification's rule).
      'service.name': o.serviceName,
    }),
  };
}

/**
 * Logs the first failure of a run of failed exports and the recovery, not every attempt: a
 * collector down for an hour is two lines, not hundreds.
 */
function failureLog(logger: Logger, signal: string): { ok(): void; failed(e: unknown): void } {
  let failing = false;
  return {
    ok() {
      if (failing) logger.info('otlp export recovered', { signal });
      failing = false;
    },
    failed(e) {
      if (!failing) logger.warn('otlp export failed; retrying with the next batch, dropping this one', { signal, error: e instanceof Error ? e.message : String(e) });
      failing = true;
    },
  };
}

/** Tracers alive in this process; the hooks stay set while there is one. */
let live = 0;

export function startTelemetry(o: OtelOptions, targets: { traces?: string; metrics?: string }, parts: TelemetryParts): Telemetry {
  const resource = resourceOf(o);
  const destination = (url: string, headers: Record<string, string>): Destination => ({ url, headers: { ...o.headers, ...headers }, timeoutMs: o.timeout });
  const closers: Array<() => Promise<void>> = [];

  let requests: MiddlewareHandler | undefined;
  let tracingOn = false;
  if (targets.traces) {
    const to = destination(targets.traces, o.traces.headers);
    const log = failureLog(parts.logger, 'traces');
    const batcher: Batcher<FinishedSpan> = new Batcher(
      async (batch) => {
        const dropped = batcher.takeDropped();
        if (dropped > 0) parts.logger.warn('spans dropped: the export queue was full', { dropped, maxQueueSize: o.traces.maxQueueSize });
        try {
          await post(to, encodeSpans(resource, batch));
          log.ok();
          return true;
        } catch (e) {
          log.failed(e);
          return false;
        }
      },
      { delayMs: o.traces.batchDelay, maxQueue: o.traces.maxQueueSize, maxBatch: o.traces.maxBatchSize },
    );
    const { sampler, samplerArg } = o.traces;
    const tracer = new Tracer({
      sampler: createSampler(sampler, samplerArg),
      neverSamplesRoots: neverSamplesRoots(sampler, samplerArg),
      keyKind: parts.keyKind,
      finished: (span) => batcher.add(span),
    });
    requests = traceRequests(tracer);
    tracingOn = true;
    live++;
    setTracing(tracingHooks);
    closers.push(async () => {
      if (--live === 0) setTracing(undefined);
      await batcher.close();
    });
  }

  if (targets.metrics) {
    const to = destination(targets.metrics, o.metrics.headers);
    const log = failureLog(parts.logger, 'metrics');
    const startMs = Date.now();
    let sending: Promise<void> | undefined;
    const send = (): Promise<void> =>
      (sending ??= (async () => {
        try {
          await post(to, encodeMetrics(resource, await parts.metricsText(), startMs, Date.now()));
          log.ok();
        } catch (e) {
          log.failed(e);
        } finally {
          sending = undefined;
        }
      })());
    const timer = setInterval(() => void send(), o.metrics.interval);
    (timer as { unref?: () => void }).unref?.();
    closers.push(async () => {
      clearInterval(timer);
      await sending;
      await send();
    });
  }

  parts.logger.info('opentelemetry on', {
    traces: targets.traces && redact(targets.traces),
    metrics: targets.metrics && redact(targets.metrics),
    sampler: tracingOn ? o.traces.sampler : undefined });
  return {
    requests,
    gate: (mode, gate) => (tracingOn ? traceGate(mode, gate) : gate),
    close: async () => {
      await Promise.all(closers.map((close) => close()));
    },
  };
}
