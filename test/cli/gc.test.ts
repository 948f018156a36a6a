import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../support/server.ts';

const run = promisify(execFile);
const cli = resolve(import.meta.dirname, '..', '..', 'dist', 'runtimes', 'node.js');
let data = '';

afterAll(async () => {
  if (data) await rm(data, { recursive: true, force: true });
});

const gc = (...args: string[]) => run(process.execPath, [cli, 'gc', '--data', data, ...args], { env: { PATH: process.env.PATH ?? '' } });

describe('berth gc (command)', () => {
  it('reports on a dry run, then deletes the orphaned blob and prints a summary', async () => {
    data = await mkdtemp(join(tmpdir(), 'berth-gc-cli-'));
    const server = await startServer({ dataDir: data });
    const bytes = randomBytes(4096);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const res = await fetch(`${server.url}/v2/orphan/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
    expect(res.status).toBe(201);
    await server.stop();
    const shard = join(data, 'blobs', 'sha256', digest.slice(7, 9));

    const dry = await gc('--dry-run', '--grace', '0s');
    expect(dry.stdout).toMatch(/^dry run: 1 repositories checked$/m);
    expect(dry.stdout).toMatch(/would delete 1 blobs \(0\.0 MiB\)/);
    expect(await readdir(shard)).toEqual([digest.slice(7)]);

    const kept = await gc(); // default grace of 1h protects the fresh blob
    expect(kept.stdout).toMatch(/deleted 0 blobs/);

    const real = await gc('--grace', '0s');
    expect(real.stdout).toMatch(/deleted 1 blobs .* 1 dangling links/);
    expect(await readdir(shard)).toEqual([]);
  });

  it('refuses a bad --grace with a clear message', async () => {
    await expect(gc('--grace', 'soon')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--grace must be a duration') });
  });
});
