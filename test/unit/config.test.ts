import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, millis, parseDuration } from '../../src/config/duration.ts';
import { formatSize } from '../../src/config/size.ts';
import { ConfigError, loadConfig, parseConfig, type ConfigSources } from '../../src/schema.ts';
import type { Config } from '../../src/schema.ts';

const MiB = 1024 * 1024;

const defaults = {
  listen: '0.0.0.0:5000',
  storage: { fs: { root: './data' } },
  manifests: { maxSize: 4 * MiB },
  uploads: { chunkMinLength: 1 },
  delete: { blobs: true, manifests: true, tags: true },
  log: { level: 'info' },
};

let dir: string;
let files = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `config-${files++}.yaml`);
  await writeFile(path, text);
  return path;
}

/** Loads and expects a ConfigError; returns its message. */
async function configError(sources: ConfigSources): Promise<string> {
  const error = await loadConfig(sources).then(
    (config) => new Error(`expected a ConfigError, got ${JSON.stringify(config)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message;
}

describe('loadConfig', () => {
  it('fills in the defaults', async () => {
    expect(await loadConfig({})).toMatchObject(defaults);
  });

  it('keeps idle keep-alive connections longer than Go clients pool them (90 s)', async () => {
    const { server } = await loadConfig({});
    expect(server.idleTimeout).toBeGreaterThan(90_000);
    expect(server).toEqual({ idleTimeout: 120_000, headersTimeout: 60_000, bodyIdleTimeout: 60_000 });
    expect((await loadConfig({ env: { BERTH_SERVER__BODY_IDLE_TIMEOUT: '3s' } })).server.bodyIdleTimeout).toBe(3000);
  });

  it('reads values from a YAML file', async () => {
    const file = await yamlFile(`
listen: 127.0.0.1:7000
storage:
  fs:
    root: /srv/berth
manifests:
  maxSize: 8MiB
uploads:
  chunkMinLength: 5242880
delete:
  blobs: false
log:
  level: debug
`);
    expect(await loadConfig({ file })).toMatchObject({
      listen: '127.0.0.1:7000',
      storage: { fs: { root: '/srv/berth' } },
      manifests: { maxSize: 8 * MiB },
      uploads: { chunkMinLength: 5 * MiB },
      delete: { ...defaults.delete, blobs: false },
      log: { level: 'debug' },
    });
  });

  it('treats an empty file as no settings', async () => {
    expect((await loadConfig({ file: await yamlFile('') })).listen).toBe('0.0.0.0:5000');
  });

  it('reads size units', async () => {
    const sizes = { '512KiB': 512 * 1024, '2GiB': 2 * 1024 * MiB, '1MB': 1e6, '100': 100, '1.5MiB': 1.5 * MiB };
    for (const [text, bytes] of Object.entries(sizes)) {
      expect((await loadConfig({ env: { BERTH_MANIFESTS__MAX_SIZE: text } })).manifests.maxSize, text).toBe(bytes);
    }
    // The mirror's cache limit takes the same syntax.
    const mirror = await loadConfig({ file: await yamlFile('mirror:\n  retention: { maxSize: 50GiB }\n') });
    expect(mirror.mirror.retention.maxSize).toBe(50 * 1024 * MiB);
    expect((await loadConfig({})).mirror.retention.maxSize).toBe(0);
  });

  it('reads BERTH_* environment variables', async () => {
    const config = await loadConfig({
      env: {
        BERTH_LISTEN: '127.0.0.1:6000',
        BERTH_DATA: '/var/lib/berth',
        BERTH_MANIFESTS__MAX_SIZE: '8MiB',
        BERTH_DELETE__BLOBS: 'false',
        BERTH_UPLOADS__CHUNK_MIN_LENGTH: '1024',
        BERTH_LOG__LEVEL: 'warn',
        PATH: '/usr/bin',
        HOME: '/root',
      },
    });
    expect(config).toMatchObject({
      listen: '127.0.0.1:6000',
      storage: { fs: { root: '/var/lib/berth' } },
      manifests: { maxSize: 8 * MiB },
      uploads: { chunkMinLength: 1024 },
      delete: { ...defaults.delete, blobs: false },
      log: { level: 'warn' },
    });
  });

  it.each([
    ['BERTH_LISTEN', '[::1]:5000', (c: Config) => c.listen],
    ['BERTH_DATA', '{data}: [x', (c: Config) => c.storage.fs?.root],
  ])('takes %s=%s as it is, whatever YAML would make of it', async (name, value, get) => {
    expect(get(await loadConfig({ env: { [name]: value } }))).toBe(value);
  });

  it('reads the file named by BERTH_CONFIG', async () => {
    const file = await yamlFile('listen: 127.0.0.1:7100\n');
    expect((await loadConfig({ env: { BERTH_CONFIG: file } })).listen).toBe('127.0.0.1:7100');
  });

  it('ranks flags over environment over file over defaults', async () => {
    const file = await yamlFile('listen: 127.0.0.1:1001\nstorage:\n  fs:\n    root: /from/file\ndelete:\n  tags: false\n');
    const env = { BERTH_LISTEN: '127.0.0.1:1002', BERTH_DELETE__BLOBS: 'false' };
    const overrides = { listen: '127.0.0.1:1003' };

    const all = await loadConfig({ file, env, overrides });
    expect(all.listen).toBe('127.0.0.1:1003');
    expect(all.storage.fs?.root).toBe('/from/file');
    // Nested keys merge: the file's delete.tags and the environment's delete.blobs both hold.
    expect(all.delete).toEqual({ blobs: false, manifests: true, tags: false });

    expect((await loadConfig({ file, env })).listen).toBe('127.0.0.1:1002');
    expect((await loadConfig({ file })).listen).toBe('127.0.0.1:1001');
    expect((await loadConfig({ file, env: { BERTH_DATA: '/from/env' }, overrides: { storage: { fs: { root: '/from/flag' } } } })).storage.fs?.root).toBe(
      '/from/flag',
    );
    expect((await loadConfig({ file, env: { BERTH_DATA: '/from/env' } })).storage.fs?.root).toBe('/from/env');
  });

  it('prefers an explicit file to BERTH_CONFIG', async () => {
    const file = await yamlFile('listen: 127.0.0.1:1101\n');
    const other = await yamlFile('listen: 127.0.0.1:1102\n');
    expect((await loadConfig({ file, env: { BERTH_CONFIG: other } })).listen).toBe('127.0.0.1:1101');
  });

  it('reads every duration as milliseconds: a bare number is seconds, a string carries its unit', async () => {
    const file = await yamlFile(
      [
        'uploads: { purgeAfter: 90 }',
        'gc: { grace: 2h, interval: 500ms }',
        'cache: { ttl: 2s }',
        'mirror:',
        '  upstreams: [{ name: a, url: "http://a.test", tagTtl: 5m }]',
        '  timeouts: { connect: 3 }',
        '  retention: { maxAge: 7d }',
        'auth: { token: { lifetime: 10m, leeway: 30 }, throttle: { delay: 1s, maxDelay: 1m } }',
        '',
      ].join('\n'),
    );
    const c = await loadConfig({ file });
    expect(c.uploads.purgeAfter).toBe(90_000);
    expect(c.gc).toMatchObject({ grace: 7_200_000, interval: 500 });
    expect(c.cache.ttl).toBe(2000);
    expect(c.mirror.upstreams[0]?.tagTtl).toBe(300_000);
    expect(c.mirror.timeouts).toEqual({ connect: 3000, headers: 30_000, body: 60_000 });
    expect(c.mirror.retention.maxAge).toBe(7 * 86_400_000);
    expect(c.auth.token).toMatchObject({ lifetime: 600_000, leeway: 30_000 });
    expect(c.auth.throttle).toMatchObject({ delay: 1000, maxDelay: 60_000 });
    // cache.ttl takes the same syntax as every other duration, and a bad one is named.
    expect((await loadConfig({ env: { BERTH_CACHE__TTL: '0' } })).cache.ttl).toBe(0);
    expect(await configError({ env: { BERTH_CACHE__TTL: 'soon' } })).toMatch(/cache\.ttl.*duration/);
  });

  it('keeps a parsed configuration as it is when it is handed back (durations are not read twice)', async () => {
    const config = await loadConfig({ file: await yamlFile('gc: { grace: 1h }\n') });
    expect(parseConfig(config)).toBe(config);
    expect(parseConfig({ ...config, listen: '127.0.0.1:1' }).gc.grace).toBe(3_600_000);
  });

  it('formats durations and sizes the way they are written, and reads them back to the same value', () => {
    const durations: Array<[number, string]> = [[0, '0s'], [500, '500ms'], [1500, '1500ms'], [90_000, '90s'], [300_000, '5m'], [86_400_000, '24h'], [30 * 86_400_000, '30d']];
    for (const [ms, text] of durations) {
      expect(formatDuration(millis(ms))).toBe(text);
      expect(parseDuration(text)).toBe(ms);
    }
    expect([0, 1, 1000, 1024, 64 * MiB, 1536 * 1024, 50 * 1024 * MiB].map(formatSize)).toEqual([0, 1, 1000, '1KiB', '64MiB', '1536KiB', '50GiB']);
  });

  it('reads relative paths in a file against the file\'s folder; flags and the environment against the working directory', async () => {
    const sub = join(dir, 'etc');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'berth.yml');
    await writeFile(
      file,
      [
        'storage: { fs: { root: ./data } }',
        'auth:',
        '  mode: token',
        '  htpasswd: htpasswd',
        '  token:',
        '    key: ../keys/token.pem',
        '    issuers:',
        '      - { issuer: a, jwks: ./a.json }',
        '      - { issuer: b, jwks: "https://idp.test/jwks.json", certificates: [b.pem, /abs/c.pem] }',
        '',
      ].join('\n'),
    );
    const c = await loadConfig({ file });
    expect(c.storage.fs?.root).toBe(join(sub, 'data'));
    expect(c.auth.htpasswd).toBe(join(sub, 'htpasswd'));
    expect(c.auth.token.key).toBe(join(dir, 'keys', 'token.pem'));
    expect(c.auth.token.issuers.map((i) => i.jwks)).toEqual([join(sub, 'a.json'), 'https://idp.test/jwks.json']);
    expect(c.auth.token.issuers[1]?.certificates).toEqual([join(sub, 'b.pem'), '/abs/c.pem']);
    // Not from the file: left for the working directory, as a shell user means it.
    expect((await loadConfig({ file, env: { BERTH_DATA: 'here' } })).storage.fs?.root).toBe('here');
    expect((await loadConfig({ file, overrides: { storage: { fs: { root: 'there' } } } })).storage.fs?.root).toBe('there');
    expect((await loadConfig({})).storage.fs?.root).toBe('./data');
  });

  it('refuses two upstreams that would share a prefix, naming both', async () => {
    const same = await yamlFile('mirror:\n  upstreams:\n    - { name: one, url: "https://r.test", prefix: r }\n    - { name: two, url: "https://s.test", prefix: r }\n');
    const message = await configError({ file: same });
    expect(message).toMatch(/mirror\.upstreams\.1\.prefix/);
    expect(message).toMatch(/"r".*"one".*never be reached/);
    // Two URLs on one host default to the same prefix (its name, without the port).
    const host = await yamlFile('mirror:\n  upstreams:\n    - { name: one, url: "https://r.test:5000" }\n    - { name: two, url: "https://r.test:6000/x" }\n');
    expect(await configError({ file: host })).toMatch(/prefix "r\.test" \(the default for r\.test:6000; set `prefix` on one of them\)/);
    // Docker Hub's URLs all default to docker.io.
    const hub = await yamlFile('mirror:\n  upstreams:\n    - { name: one, url: "https://registry-1.docker.io" }\n    - { name: two, url: "https://index.docker.io" }\n');
    expect(await configError({ file: hub })).toMatch(/prefix "docker\.io"/);
    const distinct = await yamlFile('mirror:\n  upstreams:\n    - { name: one, url: "https://r.test:5000" }\n    - { name: two, url: "https://r.test:6000", prefix: r2 }\n');
    expect((await loadConfig({ file: distinct })).mirror.upstreams).toHaveLength(2);
  });

  describe('errors name the key and the problem', () => {
    it.each<[string, string, RegExp[]]>([
      ['an unknown top-level key', 'lisen: 127.0.0.1:5000\n', [/lisen/]],
      ['an unknown nested key', 'storage:\n  fs:\n    rot: /x\n', [/storage\.fs/, /rot/]],
      ['an unknown section', 'mirror:\n  upstream: x\n', [/mirror/]],
      ['a bad listen address', 'listen: nonsense\n', [/listen/, /HOST:PORT/]],
      ['a port out of range', 'listen: 127.0.0.1:70000\n', [/listen/, /port/]],
      ['a bad size', 'manifests:\n  maxSize: lots\n', [/manifests\.maxSize/, /byte count|size/i]],
      ['a negative size', 'manifests:\n  maxSize: -1\n', [/manifests\.maxSize/]],
      ['a bad mirror cache size', 'mirror:\n  retention:\n    maxSize: 50 gigs\n', [/mirror\.retention\.maxSize/, /byte count/]],
      ['a boolean that is not one', 'delete:\n  blobs: sometimes\n', [/delete\.blobs/, /boolean/i]],
      ['an unknown log level', 'log:\n  level: loud\n', [/log\.level/]],
      ['an empty storage root', 'storage:\n  fs:\n    root: ""\n', [/storage\.fs\.root/]],
    ])('%s in a file', async (_, text, patterns) => {
      const file = await yamlFile(text);
      const message = await configError({ file });
      for (const p of patterns) expect(message).toMatch(p);
      expect(message).toContain(file);
    });

    it('names the key when the environment holds the bad value', async () => {
      const message = await configError({ env: { BERTH_LISTEN: 'nonsense' } });
      expect(message).toMatch(/listen/);
      expect(message).toMatch(/HOST:PORT/);
      expect(await configError({ env: { BERTH_MANIFESTS__MAX_SIZE: 'huge' } })).toMatch(/manifests\.maxSize/);
    });

    it('names the key when a BERTH_* value is not even valid YAML', async () => {
      expect(await configError({ env: { BERTH_LOG__LEVEL: '[loud' } })).toMatch(/log\.level|BERTH_LOG__LEVEL/);
    });

    it('names the key when a flag holds the bad value', async () => {
      expect(await configError({ overrides: { listen: 'localhost' } })).toMatch(/listen.*HOST:PORT/);
    });

    it.each([
      ['a list', '- a\n- b\n'],
      ['a scalar', 'just text\n'],
    ])('refuses a file holding %s instead of a mapping', async (_, text) => {
      const file = await yamlFile(text);
      const message = await configError({ file });
      expect(message).toContain(file);
      expect(message).toMatch(/mapping/);
    });

    it('names a file it cannot read', async () => {
      const missing = join(dir, 'missing.yaml');
      const message = await configError({ file: missing });
      expect(message).toContain(missing);
      expect(message).toMatch(/cannot read|ENOENT/);
      expect(await configError({ file: dir })).toContain(dir);
    });

    it('names a file that is not valid YAML', async () => {
      const file = await yamlFile('listen: [127.0.0.1\nstorage: {\n');
      const message = await configError({ file });
      expect(message).toContain(file);
      expect(message).toMatch(/YAML/);
    });
  });
});
