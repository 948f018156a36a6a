import { AsyncLocalStorage } from 'node:async_hooks';
import type { AttributeValue, Attributes, Span, Tracing } from './hooks.ts';
import { formatTraceparent, newSpanId, newTraceId, type RemoteParent } from './ids.ts';
import type { Sampler } from './sampler.ts';

export type SpanKind = 'server' | 'internal' | 'client';

/** A span as the exporter reads it once ended. */
export interface FinishedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKind;
  /** Milliseconds since the epoch, with a fractional part. */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** Set when the span failed: what went wrong. */
  readonly error: string | undefined;
}

export interface TracerOptions {
  sampler: Sampler;
  /** The root decision is always "no" (the trace id need not be made to ask). */
  neverSamplesRoots: boolean;
  /** What kind of object a storage key names (src/registry/layout.ts): recorded instead of the key. */
  keyKind: (key: string) => string;
  /** Takes each span as it ends. */
  finished: (span: FinishedSpan) => void;
}

const now = (): number => performance.timeOrigin + performance.now();

const describeError = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

class RecordingSpan implements Span, FinishedSpan {
  readonly traceId: string;
  readonly spanId = newSpanId();
  readonly parentSpanId: string | undefined;
  name: string;
  readonly kind: SpanKind;
  readonly startMs = now();
  endMs = 0;
  readonly attributes: Record<string, AttributeValue> = {};
  error: string | undefined;
  readonly tracer: Tracer;

  constructor(tracer: Tracer, traceId: string, parentSpanId: string | undefined, name: string, kind: SpanKind, attributes?: Attributes) {
    this.tracer = tracer;
    this.traceId = traceId;
    this.parentSpanId = parentSpanId;
    this.name = name;
    this.kind = kind;
    if (attributes) for (const k in attributes) this.set(k, attributes[k]);
  }

  set(key: string, value: AttributeValue | undefined): void {
    if (value !== undefined && this.endMs === 0) this.attributes[key] = value;
  }

  end(error?: unknown): void {
    if (this.endMs !== 0) return;
    this.endMs = now();
    if (error !== undefined) this.error = describeError(error);
    this.tracer.finished(this);
  }

  run<T>(fn: () => T): T {
    return context.run(this, fn);
  }

  traceparent(): string {
    return formatTraceparent(this.traceId, this.spanId, true);
  }

  child(name: string, kind: SpanKind, attributes?: Attributes): RecordingSpan {
    return new RecordingSpan(this.tracer, this.traceId, this.spanId, name, kind, attributes);
  }
}

/**
 * A caller's trace this process does not record: kept current so that outgoing requests still
 * carry the caller's trace id (with its "not sampled" flag) to the upstream.
 */
class UnsampledParent implements Span {
  readonly #traceparent: string;
  constructor(parent: RemoteParent) {
    this.#traceparent = formatTraceparent(parent.traceId, parent.spanId, false);
  }
  traceparent(): string {
    return this.#traceparent;
  }
  set(): void {}
  end(): void {}
  run<T>(fn: () => T): T {
    return fn();
  }
}

type Current = RecordingSpan | UnsampledParent;

/** The span of the code running now; one per process, shared by every registry's tracer. */
const context = new AsyncLocalStorage<Current>();

const recording = (): RecordingSpan | undefined => {
  const c = context.getStore();
  return c instanceof RecordingSpan ? c : undefined;
};

/** One registry's tracer: its sampler, its exporter, its storage layout. */
export class Tracer {
  readonly #options: TracerOptions;

  constructor(options: TracerOptions) {
    this.#options = options;
  }

  finished(span: FinishedSpan): void {
    this.#options.finished(span);
  }

  keyKind(key: string): string {
    return this.#options.keyKind(key);
  }

  /**
   * The span of a request received, continuing the caller's trace when it sent one; undefined when
   * the sampler says no.
   */
  startRequest(name: string, parent: RemoteParent | undefined): RecordingSpan | undefined {
    if (!parent && this.#options.neverSamplesRoots) return undefined;
    const traceId = parent?.traceId ?? newTraceId();
    if (!this.#options.sampler(traceId, parent)) return undefined;
    return new RecordingSpan(this, traceId, parent?.spanId, name, 'server');
  }

  /** Runs a request's handling with its span (or the caller's unrecorded trace) current. */
  runRequest<T>(span: RecordingSpan | undefined, parent: RemoteParent | undefined, fn: () => T): T {
    if (span) return context.run(span, fn);
    return parent ? context.run(new UnsampledParent(parent), fn) : fn();
  }
}

export type { RecordingSpan };

/** The hooks' implementation (./hooks.ts), the same for every tracer: it asks the current span. */
export const tracingHooks: Tracing = {
  start(name, kind, attributes) {
    return recording()?.child(name, kind, attributes);
  },
  storage(driver, operation, key) {
    const parent = recording();
    if (!parent) return undefined;
    return parent.child(`storage ${operation}`, 'internal', {
      'berth.storage.driver': driver,
      'berth.storage.operation': operation,
      'berth.storage.key_kind': parent.tracer.keyKind(key),
    });
  },
  client(method, url) {
    const c = context.getStore();
    if (!c) return undefined;
    if (c instanceof UnsampledParent) return c;
    return c.child(method, 'client', {
      'http.request.method': method,
      'url.scheme': url.protocol.replace(/:$/, ''),
      'server.address': url.hostname,
      'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    });
  },
  annotate(key, value) {
    recording()?.set(key, value);
  },
  ids() {
    const span = recording();
    return span ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
  },
};

