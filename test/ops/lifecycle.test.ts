/**
 * `createRegistry(...).close()` releases everything the registry started (DESIGN.md: Maintenance):
 * a library user's process, with the mirror, gc and mirror retention on, exits by itself once it
 * has closed the registry, on each runtime. Maintenance keeps the process alive until then, so a
 * timer, upstream connection or pass that close() left behind keeps it running and fails the test.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushHttpImage, pushHttpIndex } from '../support/mirror.ts';
import { libraryModule, scriptRunner, startServer, testRuntime, type TestServer } from '../support/server.ts';

/** How long the process may take to end once close() has resolved. */
const exitWithinMs = 10_000;

let upstream: TestServer;
const dirs: string[] = [];

beforeAll(async () => {
  upstream = await startServer();
  await pushHttpIndex(upstream.url, 'lib/app', 'v1', [await pushHttpImage(upstream.url, 'lib/app', [new Uint8Array(1000)])]);
});

afterAll(async () => {
  await upstream?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('createRegistry(...).close()', () => {
  it('lets a process with the mirror and maintenance on exit by itself', async () => {
    const data = await mkdtemp(join(tmpdir(), 'berth-lifecycle-'));
    dirs.push(data);
    const [bin, args] = scriptRunner(testRuntime);
    const script = resolve(import.meta.dirname, '..', 'support', 'library-close.mjs');
    const child = spawn(bin, [...args, script, libraryModule(testRuntime), upstream.url, data], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

    // close() has resolved once the script prints its report.
    const closed = await new Promise<boolean>((done) => {
      const timer = setTimeout(() => done(false), 60_000);
      const check = (): void => {
        if (!stdout.includes('\n')) return;
        clearTimeout(timer);
        done(true);
      };
      child.stdout.on('data', check);
      child.once('exit', () => {
        clearTimeout(timer);
        done(stdout.includes('\n'));
      });
    });
    expect(closed, stderr).toBe(true);
    const report = JSON.parse(stdout) as { status: number; pulled: number; ran: string[] };
    expect(report.status).toBe(200);
    expect(report.pulled).toBeGreaterThan(0);
    expect(report.ran).toEqual(expect.arrayContaining(['garbage collected', 'mirror retention sweep']));

    const exit = await new Promise<number | string | null>((done) => {
      if (child.exitCode !== null) return done(child.exitCode);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done('still running');
      }, exitWithinMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        done(code);
      });
    });
    expect(exit, `the process did not exit within ${exitWithinMs / 1000} s of close():\n${stderr}`).toBe(0);
  });
});
