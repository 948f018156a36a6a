import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { startServer } from '../support/server.ts';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'dist/runtimes/node.js');

/** The test's environment without any BERTH_* variable, so only what a test sets reaches berth. */
const cleanEnv = (extra: Record<string, string> = {}): Record<string, string | undefined> => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_'))),
  ...extra,
});

interface Spawned {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnBerth(args: string[], env: Record<string, string> = {}, command: [string, string[]] = [process.execPath, [cli]]): Spawned {
  const [bin, pre] = command;
  const child = spawn(bin, [...pre, ...args], { cwd: root, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('close', (code, signal) => ok({ code, signal })),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Runs berth to completion; a process still running after `ms` is killed (a test that should fail fast). */
async function runBerth(args: string[], env: Record<string, string> = {}, ms = 20_000) {
  const run = spawnBerth(args, env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), ms);
  const { code, signal } = await run.exited;
  clearTimeout(timer);
  return { code, signal, ...run.output() };
}

/** Stops a spawned process group (npm and its children) and waits for the process to end. */
async function stopGroup(run: Spawned, signal: NodeJS.Signals = 'SIGTERM') {
  if (run.child.exitCode === null && run.child.signalCode === null && run.child.pid !== undefined) {
    try {
      process.kill(-run.child.pid, signal);
    } catch {
      // already gone
    }
  }
  return run.exited;
}

/** Polls until `url` answers or the process ends; returns the response. */
async function waitForHttp(url: string, run: Spawned, ms: number): Promise<Response> {
  const deadline = Date.now() + ms;
  let ended = false;
  void run.exited.then(() => (ended = true));
  while (Date.now() < deadline && !ended) {
    try {
      return await fetch(url);
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not answer (process ${ended ? 'exited' : 'still running'}):\n${JSON.stringify(run.output())}`);
}

const stackTrace = /^\s+at .+:\d+/m;

describe('berth CLI', () => {
  let data: string;
  let configDir: string;

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.json)`);
    data = await mkdtemp(join(tmpdir(), 'berth-cli-data-'));
    configDir = await mkdtemp(join(tmpdir(), 'berth-cli-config-'));
  });
  afterAll(async () => {
    await rm(data, { recursive: true, force: true });
    await rm(configDir, { recursive: true, force: true });
  });

  describe('help and usage errors', () => {
    it.each(['--help', '-h', 'help', 'serve --help'])('`berth %s` prints usage and exits 0', async (args) => {
      const r = await runBerth(args.split(' '));
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/usage: berth/);
      expect(r.stdout).toMatch(/serve/);
      expect(r.stdout).toMatch(/--listen/);
    });

    it.each(['--version', 'version'])('`berth %s` prints the package version on every runtime', async (arg) => {
      const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
      expect(version).toMatch(/^\d+\.\d+\.\d+/);
      const commands: [string, string[]][] = [
        [process.execPath, [cli]],
        [join(root, 'node_modules/.bin/bun'), ['run', join(root, 'runtimes/bun.ts')]],
        [join(root, 'node_modules/.bin/deno'), ['run', '-A', '--config', join(root, 'deno.json'), join(root, 'runtimes/deno.ts')]],
      ];
      for (const command of commands) {
        const run = spawnBerth([arg], {}, command);
        const { code } = await run.exited;
        expect({ code, ...run.output() }, command[0]).toEqual({ code: 0, stdout: `berth ${version}\n`, stderr: '' });
      }
    });

    it('an unknown command prints usage and exits 2', async () => {
      const r = await runBerth(['frobnicate']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown command "frobnicate"/);
      expect(r.stderr).toMatch(/usage: berth/);
    });

    it('no command at all prints usage and exits 2', async () => {
      const r = await runBerth([]);
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/usage: berth/);
    });

    it('an unknown flag is named, exit 2', async () => {
      const r = await runBerth(['serve', '--data', data, '--bogus']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--bogus/);
      expect(r.stderr).not.toMatch(stackTrace);
    });
  });

  describe('configuration errors: one clear message, no stack trace, no server', () => {
    it('--listen nonsense names listen', async () => {
      const r = await runBerth(['serve', '--listen', 'nonsense', '--data', data]);
      expect(r.code).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/listen/);
      expect(r.stderr).toMatch(/HOST:PORT/);
      expect(r.stderr).not.toMatch(stackTrace);
      expect(r.stderr).not.toMatch(/"msg":"listening"/);
    });

    it('--config with an unknown key names that key', async () => {
      const file = join(configDir, 'unknown-key.yaml');
      await writeFile(file, 'listen: 127.0.0.1:0\nstorage:\n  fs:\n    rooot: /tmp/x\n');
      const r = await runBerth(['serve', '--config', file, '--data', data]);
      expect(r.code).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/rooot/);
      expect(r.stderr).toMatch(/storage\.fs/);
      expect(r.stderr).not.toMatch(stackTrace);
    });

    it('a BERTH_* value that is not valid YAML names its key', async () => {
      const r = await runBerth(['serve', '--listen', '127.0.0.1:0', '--data', data], { BERTH_LOG__LEVEL: '[loud' });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/log\.level|BERTH_LOG__LEVEL/);
      expect(r.stderr).not.toMatch(stackTrace);
    });
  });

  describe('serving', () => {
    it('listens where BERTH_LISTEN says, stores under BERTH_DATA, and stops on SIGTERM with exit 0', async () => {
      const run = spawnBerth(['serve'], { BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA: data });
      try {
        const url = await new Promise<string>((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`no "listening" line in 30 s:\n${run.output().stderr}`)), 30_000);
          run.child.stderr?.on('data', () => {
            const m = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(run.output().stderr);
            if (m?.[1]) {
              clearTimeout(timer);
              ok(m[1]);
            }
          });
          void run.exited.then(() => fail(new Error(`exited before listening:\n${run.output().stderr}`)));
        });
        expect(new URL(url).hostname).toBe('127.0.0.1');
        expect(new URL(url).port).not.toBe('5000');

        const base = await fetch(`${url}/v2/`);
        expect(base.status).toBe(200);
        const apiVersion = base.headers.get('docker-distribution-api-version');

        const blob = 'stored under BERTH_DATA';
        const hex = createHash('sha256').update(blob).digest('hex');
        const push = await fetch(`${url}/v2/cli/env/blobs/uploads/?digest=sha256:${hex}`, { method: 'POST', body: blob });
        expect(push.status).toBe(201);
        expect(existsSync(join(data, 'blobs', 'sha256', hex.slice(0, 2), hex))).toBe(true);

        run.child.kill('SIGTERM');
        expect(await run.exited).toEqual({ code: 0, signal: null });
        // Checked last so that a missing header does not hide how the process ends.
        expect(apiVersion).toBe('registry/2.0');
      } finally {
        await stopGroup(run, 'SIGKILL');
      }
    }, 60_000);

    it('stops on SIGINT with exit 0', async () => {
      const server = await startServer({ runtime: 'node' });
      expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
      await server.stop('SIGINT');
      expect(server.process.exitCode).toBe(0);
    }, 60_000);

    // The README's commands, one per runtime, exactly as written there (npx finds bun and deno in node_modules).
    it.each([
      ['npm start --', 'npm', ['start', '--']],
      ['npx bun run serve:bun', 'npx', ['bun', 'run', 'serve:bun']],
      ['npx deno task serve', 'npx', ['deno', 'task', 'serve']],
    ])('`%s --listen 127.0.0.1:<port> --data <dir>` starts and answers /v2/', async (_, bin, args) => {
      const port = await freePort();
      const run = spawnBerth([...args, '--listen', `127.0.0.1:${port}`, '--data', data], {}, [bin, []]);
      try {
        const res = await waitForHttp(`http://127.0.0.1:${port}/v2/`, run, 90_000);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({});
      } finally {
        await stopGroup(run);
      }
      // The whole group is gone: nothing answers on the port any more.
      await expect(fetch(`http://127.0.0.1:${port}/v2/`)).rejects.toThrow();
    }, 120_000);
  });
});
