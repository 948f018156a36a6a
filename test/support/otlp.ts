import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OTLP/HTTP receiver for tests: accepts `POST /v1/traces` and `POST /v1/metrics` in the JSON
 * encoding, as a collector does, and decodes what arrives into plain spans and metric points.
 * Anything else (another path, another content type, a body that is not OTLP JSON) is answered
 * with 4xx and recorded as a rejection, so a test can assert there were none.
 */

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}

export type Attrs = Record<string, string | number | boolean>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  attributes: Attrs;
  status: { code?: number; message?: string } | undefined;
  resource: Attrs;
}

export interface ReceivedPoint {
  metric: string;
  type: 'sum' | 'gauge' | 'histogram' | 'summary';
  monotonic: boolean | undefined;
  attributes: Attrs;
  value: number | undefined;
  count: number | undefined;
  sum: number | undefined;
  bucketCounts: number[] | undefined;
  explicitBounds: number[] | undefined;
  resource: Attrs;
}

export interface Receiver {
  url: string;
  spans: ReceivedSpan[];
  /** Metric points of every export, newest last. */
  points: ReceivedPoint[];
  /** Number of metric export requests received from a service. */
  metricExports(service: string): number;
  /** Headers of the last export received from a service, lower-case names. */
  headersOf(service: string): Record<string, string> | undefined;
  rejected: string[];
  /** Waits until `ready()` holds (polling), or fails after `ms` saying what was received. */
  until(ready: () => boolean, what: string, ms?: number): Promise<void>;
  clear(): void;
  close(): Promise<void>;
}

function value(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    if (typeof v.intValue === 'string' && !/^-?\d+$/.test(v.intValue)) throw new Error(`intValue ${v.intValue} is not an integer`);
    return Number(v.intValue);
  }
  if (v.doubleValue !== undefined) return v.doubleValue;
  throw new Error(`unsupported AnyValue ${JSON.stringify(v)}`);
}

const attrs = (list: KeyValue[] | undefined): Attrs => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));

const hex = (s: unknown, bytes: number, what: string): string => {
  if (typeof s !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(s)) throw new Error(`${what} ${String(s)} is not ${bytes} bytes of hex`);
  return s;
};

const nanos = (s: unknown, what: string): bigint => {
  if (typeof s !== 'string' || !/^\d+$/.test(s)) throw new Error(`${what} ${String(s)} is not a decimal string`);
  return BigInt(s);
};

interface Json {
  [k: string]: unknown;
}

function decodeTraces(body: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans as Json[]) {
    const resource = attrs((rs.resource as Json | undefined)?.attributes as KeyValue[]);
    for (const ss of rs.scopeSpans as Json[]) {
      for (const s of ss.spans as Json[]) {
        out.push({
          traceId: hex(s.traceId, 16, 'traceId'),
          spanId: hex(s.spanId, 8, 'spanId'),
          parentSpanId: s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : hex(s.parentSpanId, 8, 'parentSpanId'),
          name: String(s.name),
          kind: Number(s.kind),
          start: nanos(s.startTimeUnixNano, 'startTimeUnixNano'),
          end: nanos(s.endTimeUnixNano, 'endTimeUnixNano'),
          attributes: attrs(s.attributes as KeyValue[]),
          status: s.status as ReceivedSpan['status'],
          resource,
        });
      }
    }
  }
  return out;
}

function decodeMetrics(body: Json): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of body.resourceMetrics as Json[]) {
    const resource = attrs((rm.resource as Json | undefined)?.attributes as KeyValue[]);
    for (const sm of rm.scopeMetrics as Json[]) {
      for (const m of sm.metrics as Json[]) {
        const type = (['sum', 'gauge', 'histogram', 'summary'] as const).find((t) => m[t] !== undefined);
        if (!type) throw new Error(`metric ${String(m.name)} has no data`);
        const data = m[type] as Json;
        for (const p of data.dataPoints as Json[]) {
          out.push({
            metric: String(m.name),
            type,
            monotonic: data.isMonotonic as boolean | undefined,
            attributes: attrs(p.attributes as KeyValue[]),
            value: p.asDouble !== undefined ? Number(p.asDouble) : p.asInt !== undefined ? Number(p.asInt) : undefined,
            count: p.count === undefined ? undefined : Number(p.count),
            sum: p.sum === undefined ? undefined : Number(p.sum),
            bucketCounts: (p.bucketCounts as unknown[] | undefined)?.map(Number),
            explicitBounds: (p.explicitBounds as unknown[] | undefined)?.map(Number),
            resource,
          });
        }
      }
    }
  }
  return out;
}

export async function startReceiver(): Promise<Receiver> {
  const exports = new Map<string, number>();
  const headers = new Map<string, Record<string, string>>();
  const receiver: Receiver = {
    url: '',
    close: async () => undefined,
    spans: [],
    points: [],
    metricExports: (service) => exports.get(service) ?? 0,
    headersOf: (service) => headers.get(service),
    rejected: [],
    async until(ready, what, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!ready()) {
        if (Date.now() > deadline) {
          throw new Error(`${what}: not received in ${ms} ms; spans: ${receiver.spans.map((s) => s.name).join(', ') || 'none'}; rejected: ${receiver.rejected.join('; ') || 'none'}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    clear() {
      receiver.spans.length = 0;
      receiver.points.length = 0;
      exports.clear();
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reject = (status: number, why: string): void => {
        receiver.rejected.push(`${req.method} ${req.url}: ${why}`);
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: why }));
      };
      const received = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      if (req.method !== 'POST') return reject(405, 'not a POST');
      if (!req.headers['content-type']?.startsWith('application/json')) return reject(415, `content type ${req.headers['content-type']}`);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
        if (req.url === '/v1/traces') {
          const spans = decodeTraces(body);
          receiver.spans.push(...spans);
          if (spans[0]) headers.set(String(spans[0].resource['service.name']), received);
        } else if (req.url === '/v1/metrics') {
          const points = decodeMetrics(body);
          receiver.points.push(...points);
          const service = String(points[0]?.resource['service.name']);
          exports.set(service, (exports.get(service) ?? 0) + 1);
          headers.set(service, received);
        } else return reject(404, 'unknown path');
      } catch (e) {
        return reject(400, e instanceof Error ? e.message : String(e));
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return receiver;
}
