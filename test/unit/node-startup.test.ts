/**
 * `berth serve` on Node loads with TurboFan and Sparkplug off and turns them on once it listens
 * (runtimes/node-startup.ts, issue 15: idle RSS). Off for good would cost every request, so this
 * checks both halves with V8's own trace: nothing optimised before the server listens, and
 * request code optimised once it serves.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('berth serve on Node: the optimising compilers during and after start-up', () => {
  it('optimises nothing before it listens, and request code once it serves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-startup-'));
    dirs.push(dir);
    const child = spawn(process.execPath, ['--trace-opt', join(root, 'dist/runtimes/node.js'), 'serve', '--listen', '127.0.0.1:0', '--data', dir], {
      env: { ...process.env, BERTH_LOG__REQUESTS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise((done) => child.once('exit', done));
    try {
      const url = await new Promise<string>((ok, fail) => {
        const check = (): void => {
          const m = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(out);
          if (m?.[1]) ok(m[1]);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        child.once('exit', (code) => fail(new Error(`berth exited with ${code}: ${out}`)));
      });
      const beforeListening = out.slice(0, out.indexOf('"msg":"listening"'));
      expect(beforeListening.match(/completed optimizing/g) ?? []).toEqual([]);
      // Requests until V8 has optimised something (a few hundred are plenty with V8's defaults).
      for (let i = 0; i < 20_000 && !out.includes('completed optimizing'); i++) {
        const answer = await fetch(`${url}/v2/`);
        await answer.arrayBuffer();
        expect(answer.status).toBe(200);
      }
      expect(out).toContain('completed optimizing');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 120_000);
});
