/**
 * OpenTelemetry's pieces that need no server: what a registry loads with it off and on, the
 * standard variables, `traceparent`, the samplers, and the /metrics text as OTLP metrics.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskSecrets } from '../../src/cli/config-check.ts';
import { configFromEnv } from '../../src/config/load.ts';
import { parseConfig } from '../../src/schema.ts';
import { parseTraceparent } from '../../src/observability/otel/ids.ts';
import { encodeMetrics, parsePrometheusText } from '../../src/observability/otel/metrics.ts';
import { unixNanos } from '../../src/observability/otel/otlp.ts';
import { createSampler } from '../../src/observability/otel/sampler.ts';
import { otelTargets, withOtelEnvironment } from '../../src/observability/otel/schema.ts';
import { keyKind } from '../../src/registry/layout.ts';
import { modulesLoaded as loadedBy } from '../support/modules-loaded.ts';

/** berth's own modules a registry with this `otel:` block loads. */
const modulesLoaded = async (otel: unknown): Promise<string[]> => (await loadedBy({ otel })).filter((u) => u.includes('/dist/src/'));

const tracingCode = /\/observability\/otel\/(telemetry|tracer|http|otlp|batch|metrics|ids|sampler)\.js$/;

describe('loading', () => {
  it('loads none of the tracing code while no endpoint is configured, and all of it once one is', async () => {
    const off = await modulesLoaded({});
    expect(off.some((u) => u.endsWith('/observability/otel/start.js'))).toBe(true);
    expect(off.filter((u) => tracingCode.test(u))).toEqual([]);
    // An unreachable collector: loading and closing must not depend on it.
    const on = await modulesLoaded({ endpoint: 'http://127.0.0.1:9', timeout: '1s' });
    expect(on.filter((u) => tracingCode.test(u)).length).toBeGreaterThanOrEqual(6);
  });
});

describe('configuration', () => {
  const load = (env: Record<string, string>) => parseConfig(configFromEnv(withOtelEnvironment(env))).otel;

  it('reads the standard OTEL_* variables into otel.* keys', () => {
    const o = load({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_SERVICE_NAME: 'registry-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D,tenant=a',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    });
    expect(o).toMatchObject({
      serviceName: 'registry-eu',
      headers: { 'x-api-key': 'abc==', tenant: 'a' },
      resourceAttributes: { 'deployment.environment': 'prod' },
      timeout: 2500,
      traces: { sampler: 'parentbased_traceidratio', samplerArg: 0.25 },
      metrics: { interval: 15_000 },
    });
    expect(otelTargets(o)).toEqual({ traces: 'http://collector:4318/v1/traces', metrics: 'http://collector:4318/v1/metrics' });
  });

  it('is off without an endpoint, with OTEL_SDK_DISABLED, and per signal with exporter none', () => {
    expect(otelTargets(load({}))).toEqual({});
    expect(otelTargets(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }))).toEqual({});
    expect(otelTargets(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' }))).toEqual({ traces: 'http://c:4318/v1/traces' });
    expect(otelTargets(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom' }))).toEqual({ traces: 'http://t:4318/custom' });
  });

  it('lets an explicit BERTH_OTEL__ variable win, and refuses what it cannot do with the key named', () => {
    expect(load({ OTEL_SERVICE_NAME: 'a', BERTH_OTEL__SERVICE_NAME: 'b' }).serviceName).toBe('b');
    expect(() => load({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/otel\.protocol: berth sends OTLP over HTTP as JSON/);
    expect(() => load({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(/otel\.traces\.sampler/);
    expect(() => load({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/otel\.traces\.samplerArg/);
    expect(() => load({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(/otel\.headers/);
  });

  it('masks export headers in `berth config check`, where an API key may sit', () => {
    const shown = maskSecrets(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20abc' })) as { traces: { headers: unknown }; endpoint: string };
    expect(shown.traces.headers).toEqual({ authorization: '***' });
    expect(shown.endpoint).toBe('http://c:4318');
  });
});

describe('trace context', () => {
  it('reads a valid traceparent and ignores a malformed one', () => {
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      sampled: true,
    });
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')?.sampled).toBe(false);
    // A later version may add fields; version 00 may not.
    expect(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    for (const bad of [
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      'garbage',
      '',
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
  });

  it('samples by trace id: the same decision for the same trace, near the asked ratio, and the caller’s when parent-based', () => {
    const ratio = createSampler('traceidratio', 0.25);
    const ids = Array.from({ length: 4000 }, () => randomBytes(16).toString('hex'));
    const kept = ids.filter((id) => ratio(id, undefined)).length / ids.length;
    expect(kept).toBeGreaterThan(0.2);
    expect(kept).toBeLessThan(0.3);
    expect(ids.every((id) => ratio(id, undefined) === ratio(id, undefined))).toBe(true);
    const parentBased = createSampler('parentbased_always_off', 1);
    expect(parentBased(ids[0]!, { traceId: ids[0]!, spanId: '1'.repeat(16), sampled: true })).toBe(true);
    expect(parentBased(ids[0]!, undefined)).toBe(false);
    expect(createSampler('always_on', 1)(ids[0]!, { traceId: ids[0]!, spanId: '1'.repeat(16), sampled: false })).toBe(true);
  });

  it('names storage keys by kind only', () => {
    expect(keyKind('blobs/sha256/ab/abcdef')).toBe('blob');
    expect(keyKind('_uploads/1234/data')).toBe('upload');
    expect(keyKind('repositories/team/app/_manifests/sha256/abcdef')).toBe('manifest-link');
    expect(keyKind('repositories/team/app/_blobs/sha256/abcdef')).toBe('blob-link');
    expect(keyKind('repositories/team/app/_tags/v1')).toBe('tag');
    expect(keyKind('repositories/team/app/_tags')).toBe('tag');
    expect(keyKind('repositories/team/app/_referrers/sha256/ab/sha256-cd')).toBe('referrer');
    expect(keyKind('repositories/team/app')).toBe('repository');
  });

  it('writes times as exact nanoseconds', () => {
    expect(unixNanos(1_700_000_000_123.5)).toBe('1700000000123500000');
    expect(unixNanos(1_700_000_000_000)).toBe('1700000000000000000');
    expect(unixNanos(1_700_000_000_000.9999999)).toBe('1700000000001000000');
  });
});

describe('metrics as OTLP', () => {
  const text = [
    '# HELP berth_http_requests_total HTTP requests by route, method and status',
    '# TYPE berth_http_requests_total counter',
    'berth_http_requests_total{route="/v2/<name>/manifests/<reference>",method="GET",status="200"} 7',
    'berth_http_requests_total{route="a \\"quoted\\" \\\\ route",method="GET",status="404"} 1',
    '',
    '# HELP berth_uploads_in_flight Blob uploads being received now',
    '# TYPE berth_uploads_in_flight gauge',
    'berth_uploads_in_flight 2',
    '',
    '# HELP berth_x_seconds Latency',
    '# TYPE berth_x_seconds histogram',
    'berth_x_seconds_bucket{le="0.1",op="get"} 3',
    'berth_x_seconds_bucket{le="1",op="get"} 5',
    'berth_x_seconds_bucket{le="+Inf",op="get"} 6',
    'berth_x_seconds_sum{op="get"} 4.5',
    'berth_x_seconds_count{op="get"} 6',
    '',
  ].join('\n');

  it('parses the text format, escapes included', () => {
    const families = parsePrometheusText(text);
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['berth_http_requests_total', 'counter', 2],
      ['berth_uploads_in_flight', 'gauge', 1],
      ['berth_x_seconds', 'histogram', 5],
    ]);
    expect(families[0]?.samples[1]?.labels.route).toBe('a "quoted" \\ route');
  });

  it('turns counters into monotonic sums, gauges into gauges and cumulative buckets into per-bucket counts', () => {
    const body = JSON.parse(encodeMetrics({ attributes: [] }, text, 1_000, 2_000)) as {
      resourceMetrics: [{ scopeMetrics: [{ metrics: Array<Record<string, { dataPoints: Array<Record<string, unknown>>; isMonotonic?: boolean; aggregationTemporality?: number }>> }] }];
    };
    const [counter, gauge, histogram] = body.resourceMetrics[0].scopeMetrics[0].metrics;
    expect(counter?.sum?.isMonotonic).toBe(true);
    expect(counter?.sum?.aggregationTemporality).toBe(2);
    expect(counter?.sum?.dataPoints[0]).toMatchObject({
      asDouble: 7,
      startTimeUnixNano: '1000000000',
      timeUnixNano: '2000000000',
      attributes: [
        { key: 'route', value: { stringValue: '/v2/<name>/manifests/<reference>' } },
        { key: 'method', value: { stringValue: 'GET' } },
        { key: 'status', value: { stringValue: '200' } },
      ],
    });
    expect(gauge?.gauge?.dataPoints[0]).toMatchObject({ asDouble: 2 });
    expect(histogram?.histogram?.dataPoints[0]).toMatchObject({
      count: '6',
      sum: 4.5,
      explicitBounds: [0.1, 1],
      bucketCounts: ['3', '2', '1'],
      attributes: [{ key: 'op', value: { stringValue: 'get' } }],
    });
  });
});
