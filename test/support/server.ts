import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type RuntimeName = 'node' | 'bun' | 'deno';

export interface TestServer {
  url: string;
  dataDir: string;
  runtime: RuntimeName;
  process: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The repository root, whether this runs from test/ (vitest) or from dist/test/ (benchmarks). */
const root = ((): string => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

/** The runtime the suite runs berth on: `TEST_RUNTIME`, node by default. */
export const testRuntime = (process.env.TEST_RUNTIME ?? 'node') as RuntimeName;

/** How a runtime runs a script: its binary and the arguments that go before the script's path. */
export function scriptRunner(runtime: RuntimeName): [string, string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, []];
    case 'bun':
      return [join(root, 'node_modules/.bin/bun'), ['run']];
    case 'deno':
      return [join(root, 'node_modules/.bin/deno'), ['run', '-A', '--config', join(root, 'deno.json')]];
  }
}

/** berth's library entry point as a runtime imports it: Node the build, Bun and Deno the sources. */
export const libraryModule = (runtime: RuntimeName): string => pathToFileURL(join(root, runtime === 'node' ? 'dist/src/index.js' : 'src/index.ts')).href;

/** The `berth` command on a runtime: its executable and the arguments before berth's own. */
export function berthCommand(runtime: RuntimeName): [string, string[]] {
  const [bin, args] = scriptRunner(runtime);
  return [bin, [...args, join(root, runtime === 'node' ? 'dist/runtimes/node.js' : `runtimes/${runtime}.ts`)]];
}

export interface StartOptions {
  runtime?: RuntimeName;
  /** Reuse a data directory (restart tests); a fresh temporary one otherwise. */
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  /** A command to run the server under, e.g. `['taskset', '-c', '0']` in benchmarks. */
  wrap?: string[];
  /** How long it may take to listen (ms; 30 s): benchmarks pinned to a busy core may need more. */
  startTimeout?: number;
}

/** Starts `berth serve` on 127.0.0.1 with a free port and waits until it listens. */
export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const runtime = opts.runtime ?? testRuntime;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-test-')));
  const [runtimeBin, runtimeArgs] = berthCommand(runtime);
  const [bin, ...pre] = [...(opts.wrap ?? []), runtimeBin, ...runtimeArgs];
  const child = spawn(bin!, [...pre, 'serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...(opts.args ?? [])], {
    env: { ...process.env, BERTH_LOG__LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (stderr += d));
  child.stdout?.on('data', (d: string) => (stderr += d));
  const url = await new Promise<string>((ok, fail) => {
    const ms = opts.startTimeout ?? 30_000;
    const timer = setTimeout(() => {
      // Not left running behind the failure: nothing would ever stop it.
      child.kill('SIGKILL');
      fail(new Error(`berth on ${runtime} did not start in ${ms / 1000} s:\n${stderr}`));
    }, ms);
    const check = (): void => {
      const m = /"msg":"listening","url":"(http:\/\/[^"]+)"/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`berth on ${runtime} exited with ${code} before listening:\n${stderr}`));
    });
  });
  const ownsData = opts.dataDir === undefined;
  return {
    url,
    dataDir,
    runtime,
    process: child,
    logs: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(signal);
        await exited;
      }
      if (ownsData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The server's log lines whose message is `msg`, parsed. */
export const logged = (server: Pick<TestServer, 'logs'>, msg: string): Array<Record<string, unknown>> =>
  server
    .logs()
    .split('\n')
    .filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The sum of a metric's samples on `/metrics` whose labels include every one of `labels` (`upstream="hub"`). */
export const scrape = async (url: string, name: string, labels: string[] = []): Promise<number> =>
  (await (await fetch(`${url}/metrics`)).text())
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.every((x) => l.includes(x)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
