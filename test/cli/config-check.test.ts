import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configReference } from '../../src/config/reference.ts';

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

const check = (file: string) => run(process.execPath, [cli, 'config', 'check', file], { env: { PATH: process.env.PATH ?? '' } });

describe('berth config check', () => {
  it('prints the effective configuration with defaults filled in and secrets masked', async () => {
    const file = join(dir, 'ok.yml');
    await writeFile(file, ['listen: 127.0.0.1:5001', 'metrics:', '  token: a-very-secret-metrics-token', 'manifests:', '  maxSize: 8MiB', ''].join('\n'));
    const { stdout } = await check(file);
    expect(stdout).toContain(`# ${file}: valid`);
    expect(stdout).toContain('listen: 127.0.0.1:5001');
    expect(stdout).toContain(`maxSize: ${8 * 1024 * 1024}`);
    expect(stdout).toContain('token: "***"');
    expect(stdout).not.toContain('a-very-secret-metrics-token');
    expect(stdout).toMatch(/delete:\n\s+blobs: true/);
  });

  it('exits 2 and names the key that is wrong', async () => {
    const file = join(dir, 'bad.yml');
    await writeFile(file, 'delete:\n  blobs: sometimes\n');
    await expect(check(file)).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('delete.blobs') });
  });
});

describe('docs/configuration.md', () => {
  it('is what the schema generates (run `npm run docs` after changing the schema)', async () => {
    expect(await readFile(join(root, 'docs', 'configuration.md'), 'utf8')).toBe(configReference());
  });
});
