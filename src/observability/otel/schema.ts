import { z } from 'zod';
import { duration } from '../../config/duration.ts';

/** OTEL_TRACES_SAMPLER's values that berth implements (the specification's built-in samplers). */
const samplerNames = ['parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio', 'always_on', 'always_off', 'traceidratio'] as const;
export type SamplerName = (typeof samplerNames)[number];


/**
 * `key=value,key=value` with values percent-encoded, the format of OTEL_EXPORTER_OTLP_HEADERS and
 * OTEL_RESOURCE_ATTRIBUTES; a map in YAML.
 */
const pairs = z.union([
  z.record(z.string().min(1), z.string()),
  z.string().transform((s, ctx) => {
    const out: Record<string, string> = {};
    for (const item of s.split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${item.trim().slice(0, 40)}" is not key=value` });
        return z.NEVER;
      }
      try {
        out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: 'holds a malformed percent-encoding' });
        return z.NEVER;
      }
    }
    return out;
  }),
]);

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const signal = {
  exporter: z.enum(['otlp', 'none']),
  endpoint: url.optional(),
  headers: pairs.default({}),
};

export const otelSchema = z
  .object({
    enabled: z.boolean().default(true).describe('`false` turns export off even with an endpoint set (OTEL_SDK_DISABLED=true).'),
    endpoint: url
      .optional()
      .describe(
        'OTLP/HTTP base URL of a collector, e.g. `http://otel-collector:4318`: traces go to `/v1/traces` under it, metrics to `/v1/metrics`. Setting it turns OpenTelemetry on (OTEL_EXPORTER_OTLP_ENDPOINT).',
      ),
    protocol: z
      .enum(['http/json'], { error: 'berth sends OTLP over HTTP as JSON ("http/json"), which every OTLP/HTTP receiver accepts; grpc and http/protobuf are not supported' })
      .default('http/json')
      .describe('OTEL_EXPORTER_OTLP_PROTOCOL; only `http/json`.'),
    headers: pairs.default({}).describe('Headers sent with every export, e.g. an API key: a map, or `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS).'),
    timeout: duration.prefault('10s').describe('Time an export may take before it is given up (OTEL_EXPORTER_OTLP_TIMEOUT, in ms there).'),
    serviceName: z.string().min(1).default('berth').describe('`service.name` of every span and metric (OTEL_SERVICE_NAME).'),
    resourceAttributes: pairs.default({}).describe('More resource attributes, e.g. `deployment.environment: prod` (OTEL_RESOURCE_ATTRIBUTES).'),
    traces: z
      .object({
        exporter: signal.exporter.default('otlp').describe('`none` sends no traces (OTEL_TRACES_EXPORTER).'),
        endpoint: signal.endpoint.describe('Full URL for traces, instead of `<endpoint>/v1/traces` (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).'),
        headers: signal.headers.describe('Headers for trace exports only (OTEL_EXPORTER_OTLP_TRACES_HEADERS).'),
        sampler: z
          .enum(samplerNames)
          .default('parentbased_always_on')
          .describe('Which requests are traced (OTEL_TRACES_SAMPLER). `parentbased_*` follow the caller\'s `traceparent` decision when there is one.'),
        samplerArg: z.number().min(0).max(1).default(1).describe('The ratio of the `*traceidratio` samplers, 0 to 1 (OTEL_TRACES_SAMPLER_ARG).'),
        batchDelay: duration.prefault('5s').describe('Spans are sent at least this often (OTEL_BSP_SCHEDULE_DELAY, in ms there).'),
        maxQueueSize: z.number().int().min(1).default(2048).describe('Spans waiting to be sent; beyond this they are dropped (OTEL_BSP_MAX_QUEUE_SIZE).'),
        maxBatchSize: z.number().int().min(1).default(512).describe('Spans per export request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).'),
      })
      .strict()
      .prefault({})
      .describe('Traces: one span per request, with auth, storage and upstream spans under it.'),
    metrics: z
      .object({
        exporter: signal.exporter.default('otlp').describe('`none` sends no metrics over OTLP; /metrics is unaffected (OTEL_METRICS_EXPORTER).'),
        endpoint: signal.endpoint.describe('Full URL for metrics, instead of `<endpoint>/v1/metrics` (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT).'),
        headers: signal.headers.describe('Headers for metric exports only (OTEL_EXPORTER_OTLP_METRICS_HEADERS).'),
        interval: duration.prefault('60s').describe('How often the metrics are sent (OTEL_METRIC_EXPORT_INTERVAL, in ms there).'),
      })
      .strict()
      .prefault({})
      .describe('The families of /metrics, under the same names and labels, sent over OTLP.'),
  })
  .strict()
  .refine((o) => o.traces.maxBatchSize <= o.traces.maxQueueSize, { message: 'must not exceed traces.maxQueueSize', path: ['traces', 'maxBatchSize'] })
  .prefault({})
  .describe('OpenTelemetry: traces and metrics over OTLP/HTTP to a collector. Off until an endpoint is set; the standard OTEL_* variables set these keys.');

export type OtelOptions = z.output<typeof otelSchema>;

/** Where each signal goes, or undefined for a signal that is off. */
export function otelTargets(o: OtelOptions): { traces?: string; metrics?: string } {
  if (!o.enabled) return {};
  const base = o.endpoint?.replace(/\/+$/, '');
  const target = (s: { exporter: 'otlp' | 'none'; endpoint?: string | undefined }, path: string): string | undefined =>
    s.exporter === 'none' ? undefined : (s.endpoint ?? (base === undefined ? undefined : `${base}${path}`));
  const traces = target(o.traces, '/v1/traces');
  const metrics = target(o.metrics, '/v1/metrics');
  return { ...(traces ? { traces } : {}), ...(metrics ? { metrics } : {}) };
}

const ms = (v: string): string => `${v.trim()}ms`;

/** The standard OpenTelemetry variables and the `otel.*` keys they set (as BERTH_OTEL__* names). */
const standard: ReadonlyArray<[string, string, ((v: string) => string)?]> = [
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ENDPOINT'],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'PROTOCOL'],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'HEADERS'],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'TIMEOUT', ms],
  ['OTEL_SERVICE_NAME', 'SERVICE_NAME'],
  ['OTEL_RESOURCE_ATTRIBUTES', 'RESOURCE_ATTRIBUTES'],
  ['OTEL_TRACES_EXPORTER', 'TRACES__EXPORTER'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'TRACES__ENDPOINT'],
  ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'TRACES__HEADERS'],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'PROTOCOL'],
  ['OTEL_TRACES_SAMPLER', 'TRACES__SAMPLER'],
  ['OTEL_TRACES_SAMPLER_ARG', 'TRACES__SAMPLER_ARG'],
  ['OTEL_BSP_SCHEDULE_DELAY', 'TRACES__BATCH_DELAY', ms],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'TRACES__MAX_QUEUE_SIZE'],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'TRACES__MAX_BATCH_SIZE'],
  // Prometheus is served on /metrics whatever this says; OTLP is the only exporter to choose.
  ['OTEL_METRICS_EXPORTER', 'METRICS__EXPORTER', (v) => (v.trim() === 'prometheus' ? 'none' : v)],
  ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'METRICS__ENDPOINT'],
  ['OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'METRICS__HEADERS'],
  ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'PROTOCOL'],
  ['OTEL_METRIC_EXPORT_INTERVAL', 'METRICS__INTERVAL', ms],
];

/**
 * The environment with the standard OTEL_* variables added as the BERTH_OTEL__* variables they
 * mean, so they are validated, reported and documented like every other key. A BERTH_OTEL__*
 * variable set explicitly wins over its OTEL_* counterpart.
 */
export function withOtelEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  const set = (key: string, value: string): void => {
    const name = `BERTH_OTEL__${key}`;
    if (env[name] === undefined) out[name] = value;
  };
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') set('ENABLED', 'false');
  for (const [variable, key, convert] of standard) {
    const value = env[variable];
    if (value === undefined || value.trim() === '') continue;
    set(key, convert ? convert(value) : value);
  }
  return out;
}
