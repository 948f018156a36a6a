import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configReference } from '../../src/config/reference.ts';
import { configSchema } from '../../src/schema.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'runtimes', 'node.js');
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-config-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const check = (file: string) => run(process.execPath, [cli, 'config', 'check', file], { env: { PATH: process.env.PATH ?? '' }, cwd: root });

describe('berth config check', () => {
  it('prints the effective configuration with defaults filled in and secrets masked', async () => {
    const file = join(dir, 'ok.yml');
    await writeFile(
      file,
      ['listen: 127.0.0.1:5001', 'metrics:', '  token: a-very-secret-metrics-token', 'manifests:', '  maxSize: 8388608', 'gc:', '  grace: 5400', 'uploads:', '  purgeAfter: 24h', ''].join('\n'),
    );
    const { stdout } = await check(file);
    expect(stdout).toContain(`# ${file}: valid`);
    expect(stdout).toContain('listen: 127.0.0.1:5001');
    // Sizes and durations as a person writes them, whatever the file said.
    expect(stdout).toMatch(/manifests:\n\s+maxSize: 8MiB\n/);
    expect(stdout).toMatch(/grace: 90m\n/);
    expect(stdout).toMatch(/purgeAfter: 24h\n/);
    expect(stdout).toMatch(/cache:\n\s+maxBytes: 64MiB\n/);
    expect(stdout).toMatch(/lifetime: 5m\n/);
    // Paths absolute: the default data directory is the working directory's.
    expect(stdout).toContain(`root: ${join(root, 'data')}\n`);
    expect(stdout).toContain('token: "***"');
    expect(stdout).not.toContain('a-very-secret-metrics-token');
    expect(stdout).toMatch(/delete:\n\s+blobs: true/);
    // What it prints is a valid configuration with the same values.
    const again = join(dir, 'again.yml');
    await writeFile(again, stdout.replace('token: "***"', 'token: a-very-secret-metrics-token'));
    expect((await check(again)).stdout.split('\n').slice(1)).toEqual(stdout.split('\n').slice(1));
  });

  it('exits 2 and names the key that is wrong', async () => {
    const file = join(dir, 'bad.yml');
    await writeFile(file, 'delete:\n  blobs: sometimes\n');
    await expect(check(file)).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('delete.blobs') });
  });
});

describe('docs/configuration.md', () => {
  it('is what the schema generates (run `npm run docs` after changing the schema)', async () => {
    expect(await readFile(join(root, 'docs', 'configuration.md'), 'utf8')).toBe(configReference(configSchema));
  });
});
