/**
 * The whole configuration: each box owns the schema of its block (src/*\/schema.ts) and
 * src/config holds only the primitives they share (sizes, durations, listen addresses, paths)
 * and the loader. Composed here, above them all, so no box imports another's settings.
 */
import { z } from 'zod';
import { authSchema } from './auth/schema.ts';
import { cacheSchema } from './cache/schema.ts';
import { coordinationSchema } from './coordination/schema.ts';
import { serverSchema } from './runtime/schema.ts';
import { listen } from './config/listen.ts';
import { eventsSchema } from './events/schema.ts';
import { ConfigError, loadConfig as load, parseConfig as parse, type ConfigSources } from './config/load.ts';
import { retentionSchema } from './maintenance/schema.ts';
import { mirrorSchema } from './mirror/schema.ts';
import { observabilitySchemas } from './observability/schema.ts';
import { otelSchema, withOtelEnvironment } from './observability/otel/schema.ts';
import { registrySchemas } from './registry/schema.ts';
import { storageSchema } from './storage/schema.ts';
import { uiSchema } from './ui/schema.ts';

/**
 * Marks a configuration that has been through the schema. Parsing is not idempotent (a bare number
 * is seconds on the way in, milliseconds on the way out), so a parsed configuration handed back to
 * `createRegistry` must be recognised and kept, not read again. A symbol survives `{ ...config }`.
 */
const parsedMark: unique symbol = Symbol('berth.config.parsed');

export const configSchema = z
  .object({
    listen: listen.default('0.0.0.0:5000').describe('Address the server listens on.'),
    server: serverSchema,
    storage: storageSchema.prefault({}),
    manifests: registrySchemas.manifests,
    uploads: registrySchemas.uploads,
    delete: registrySchemas.delete,
    tags: registrySchemas.tags,
    quotas: registrySchemas.quotas,
    mirror: mirrorSchema.prefault({}).describe('Pull-through mirroring of upstream registries; no upstreams (the default) is a plain push registry.'),
    cache: cacheSchema,
    coordination: coordinationSchema,
    auth: authSchema.prefault({}).describe('Access control; `mode: none` (the default) leaves the registry open.'),
    ui: uiSchema.prefault({}).describe('The web UI: repositories, tags, manifests, referrers, the mirror and storage, in a browser. Signs in with the same users and rules as the API.'),
    metrics: observabilitySchemas.metrics,
    gc: registrySchemas.gc,
    retention: retentionSchema,
    events: eventsSchema,
    log: observabilitySchemas.log,
    otel: otelSchema,
  })
  .strict()
  .transform((c) => ({ ...c, [parsedMark]: true as const }));

/** What a config file or `createRegistry` may give; every key is optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** The effective configuration, defaults filled in. */
export type Config = z.output<typeof configSchema>;

export { ConfigError, type ConfigSources };

/** Validates a configuration object (defaults filled in) or throws a ConfigError naming the keys. */
export function parseConfig(input: unknown, origin?: string): Config {
  if (typeof input === 'object' && input !== null && parsedMark in input) return input as Config;
  return parse(configSchema, input, origin);
}

/** Reads file, environment and flags, in rising precedence, into one validated config. */
export const loadConfig = (sources: ConfigSources): Promise<Config> =>
  // The standard OTEL_* variables are read as the `otel.*` keys they name (an explicit BERTH_OTEL__* wins).
  load(configSchema, sources.env ? { ...sources, env: withOtelEnvironment(sources.env) } : sources);
