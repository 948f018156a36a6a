/**
 * What an idle registry holds in memory is mostly the code it loaded: the AWS SDK, the mirror's
 * HTTP client, token signing and the YAML parser are loaded only by configurations that use them
 * (issue 15: idle RSS). Each case creates a registry in a process of its own and lists the packages
 * and berth modules it loaded.
 */
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/config/load.ts';
import { parse as parseYaml } from 'yaml';
import { modulesLoaded, modulesLoadedByServe, packagesIn } from '../support/modules-loaded.ts';

const optional = ['@aws-sdk/client-s3', 'undici', 'jose', 'bcryptjs', 'yaml'];

describe('a registry loads only what its configuration uses', () => {
  it('on local disk with defaults: none of S3, the mirror, auth or YAML', async () => {
    const loaded = await modulesLoaded({});
    expect(packagesIn(loaded).filter((p) => optional.includes(p))).toEqual([]);
    // Their schemas are part of the configuration; the code behind them is not loaded.
    expect(loaded.filter((u) => /\/dist\/src\/(mirror\/(create|upstream|registry)|auth\/(create|keys|passwords)|storage\/s3\/driver)\.js$/.test(u))).toEqual([]);
    // prom-client's index would require all of it: its push gateway client, cluster aggregator,
    // summaries and default metrics (and through them @opentelemetry/api), which berth does not use.
    expect(packagesIn(loaded)).not.toContain('@opentelemetry/api');
    expect(loaded.filter((u) => u.includes('/node_modules/prom-client/')).map((u) => u.replace(/.*\/prom-client\//, '')).sort()).toEqual(
      ['counter', 'exemplar', 'gauge', 'histogram', 'metric', 'registry', 'util', 'validation'].map((f) => `lib/${f}.js`),
    );
    // It did serve: the app and the local-disk driver are there.
    expect(loaded.some((u) => u.endsWith('/dist/src/storage/fs/driver.js'))).toBe(true);
  });

  it('`berth serve` with defaults: none of them either, nor the other commands\' code', async () => {
    // The command line used to import every command up front: bcrypt, token keys and YAML in every server.
    // It is the bundle (rolldown.config.ts): the packages it leaves outside are loaded from
    // node_modules when used, and these are the ones the other commands use.
    const loaded = await modulesLoadedByServe();
    expect(packagesIn(loaded).filter((p) => optional.includes(p))).toEqual([]);
    expect(loaded.some((u) => u.endsWith('/dist/runtimes/node.js'))).toBe(true);
  });

  it('loads the S3 driver for S3 storage, the mirror for upstreams, auth for access control', async () => {
    const s3 = await modulesLoaded({ storage: { s3: { bucket: 'bkt', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', requestTimeout: '1s', totalTimeout: '1s' } } });
    expect(packagesIn(s3)).toContain('@aws-sdk/client-s3');
    const mirror = await modulesLoaded({ mirror: { upstreams: [{ name: 'up', url: 'http://127.0.0.1:9', prefix: 'up' }] } });
    expect(packagesIn(mirror)).toContain('undici');
    expect(packagesIn(mirror)).not.toContain('@aws-sdk/client-s3');
    const auth = await modulesLoaded({ auth: { mode: 'token' } });
    expect(packagesIn(auth)).toEqual(expect.arrayContaining(['jose', 'bcryptjs']));
  });
});

describe('environment values without the YAML parser', () => {
  // The same scalars YAML reads, read by berth's own code so that no config file means no parser.
  const cases = ['true', 'True', 'FALSE', 'yes', '8', '-3', '+5', '07', '0o17', '0x1f', '1.5', '.5', '1.', '1e3', '-2.5E-2', '.inf', '-.inf', '.nan', '4MiB', '1_000', '[::1]:5000', 'null', '~', '', 'a b', '0x', '1e'];
  it.each(cases)('%j reads as YAML reads it', (raw) => {
    let yaml: unknown;
    try {
      yaml = parseYaml(raw);
    } catch {
      yaml = raw;
    }
    const expected = yaml !== null && typeof yaml !== 'object' && typeof yaml !== 'string' ? yaml : raw;
    expect(configFromEnv({ BERTH_X: raw }).x).toEqual(expected);
  });
});
