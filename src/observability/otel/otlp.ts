/**
 * The OTLP/HTTP JSON encoding (opentelemetry-proto 1.x, `ExportTraceServiceRequest` and
 * `ExportMetricsServiceRequest` in the protobuf JSON mapping: lowerCamelCase fields, ids in hex,
 * 64-bit integers as decimal strings, enums as numbers) and the POST that delivers it.
 */
import type { AttributeValue } from './hooks.ts';
import type { FinishedSpan, SpanKind } from './tracer.ts';

export interface KeyValue {
  key: string;
  value: { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
}

export function keyValues(attributes: Readonly<Record<string, AttributeValue>>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key in attributes) {
    const v = attributes[key]!;
    out.push({
      key,
      value:
        typeof v === 'string' ? { stringValue: v }
        : typeof v === 'boolean' ? { boolValue: v }
        : Number.isInteger(v) ? { intValue: String(v) }
        : { doubleValue: v },
    });
  }
  return out;
}

/** Milliseconds since the epoch (fractional) as the nanoseconds OTLP wants, without float rounding. */
export function unixNanos(ms: number): string {
  const whole = Math.floor(ms);
  const micro = Math.round((ms - whole) * 1e6);
  return micro >= 1e6 ? `${whole + 1}000000` : `${whole}${String(micro).padStart(6, '0')}`;
}

const kinds: Record<SpanKind, number> = { internal: 1, server: 2, client: 3 };
const statusError = 2;

export interface Resource {
  attributes: KeyValue[];
}

export const scope = { name: 'berth', version: '0.1.0' };

export function encodeSpans(resource: Resource, spans: readonly FinishedSpan[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope,
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: kinds[s.kind],
              startTimeUnixNano: unixNanos(s.startMs),
              endTimeUnixNano: unixNanos(s.endMs),
              attributes: keyValues(s.attributes),
              ...(s.error === undefined ? {} : { status: { code: statusError, message: s.error } }),
            })),
          },
        ],
      },
    ],
  });
}

export interface Destination {
  url: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
}

/** A URL fit for a log line: without user information or query, where credentials could sit. */
export function redact(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** The reason an export failed, for the log; never the endpoint's credentials (headers). */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** POSTs one OTLP/HTTP JSON request; rejects with an ExportError when it was not accepted. */
export async function post(to: Destination, body: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(to.url, {
      method: 'POST',
      headers: { ...to.headers, 'Content-Type': 'application/json' },
      body,
      signal: AbortSignal.timeout(to.timeoutMs),
    });
  } catch (e) {
    throw new ExportError(`${redact(to.url)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  // The body is small (a partial-success note at most); read it so the connection is reused.
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new ExportError(`${redact(to.url)} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}
