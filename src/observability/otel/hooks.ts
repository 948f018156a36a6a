/**
 * What the layers of berth call to add to a trace: always loaded, holds no tracing code. While no
 * registry has OpenTelemetry on, `tracing` is undefined and every hook is one property read
 * (`tracing?.start(...)` does not even evaluate its arguments). The tracer itself is imported
 * only when configured (./telemetry.ts) and sets `tracing` then.
 */

export type AttributeValue = string | number | boolean;
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** A span a layer opened under the request being traced. */
export interface Span {
  set(key: string, value: AttributeValue | undefined): void;
  /** Ends the span, as failed when `error` is given; later calls do nothing. */
  end(error?: unknown): void;
  /** Runs `fn` with this span current, so the spans `fn` opens are its children. */
  run<T>(fn: () => T): T;
  /** A W3C `traceparent` naming this span as the parent of an outgoing request. */
  traceparent(): string;
}

export interface Tracing {
  /** A child of the current span, or undefined when none is being recorded (unsampled, outside a request). */
  start(name: string, kind: 'internal' | 'client', attributes?: Attributes): Span | undefined;
  /** A storage operation's span; the key is only classified (blob, tag, upload, ...), never recorded. */
  storage(driver: string, operation: string, key: string): Span | undefined;
  /**
   * The span of one HTTP request to another service (only its scheme, host and port are recorded:
   * a URL may carry a signature), whose `traceparent` goes out with the request. Undefined outside
   * a trace; when the caller's trace is not recorded, a span that records nothing but still
   * carries the caller's trace id on.
   */
  client(method: string, url: URL): Span | undefined;
  /** Sets an attribute on the current span, if one is being recorded. */
  annotate(key: string, value: AttributeValue): void;
  /** The `trace_id` and `span_id` of the current span, for log lines. */
  ids(): { trace_id: string; span_id: string } | undefined;
}

/** The tracer, while some registry in this process has tracing on. */
export let tracing: Tracing | undefined;

export function setTracing(t: Tracing | undefined): void {
  tracing = t;
}

/**
 * Runs `fn` inside `span` (when there is one) and ends the span with its outcome; `describe` adds
 * what the result tells (a status code).
 */
export async function within<T>(span: Span | undefined, fn: () => Promise<T>, describe?: (result: T) => Attributes): Promise<T> {
  if (!span) return fn();
  try {
    const result = await span.run(fn);
    if (describe) for (const [k, v] of Object.entries(describe(result))) span.set(k, v);
    span.end();
    return result;
  } catch (e) {
    span.end(e);
    throw e;
  }
}
