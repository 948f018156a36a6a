import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigSources } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';

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
