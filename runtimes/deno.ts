// berth on Deno: `deno run -A runtimes/deno.ts serve [flags]` (or `deno task serve`).
import process from 'node:process';
import { runCli, type Runtime } from '../src/cli/main.ts';
import type { Serve } from '../src/cli/server.ts';

interface DenoServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoServer;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
};

/** In-flight requests get this long to finish after SIGTERM before the process exits anyway. */
const drainMs = 10_000;

const serve: Serve = async (app, { hostname, port }) => {
  const server = Deno.serve({ hostname, port, onListen: () => undefined }, app.fetch);
  return {
    address: { hostname, port: server.addr.port },
    close: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([server.shutdown(), new Promise((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
    },
  };
};

const runtime: Runtime = {
  name: 'deno',
  serve,
  env: process.env,
  onSignal: (handler) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) Deno.addSignalListener(signal, () => handler(signal));
  },
};

const code = await runCli(process.argv.slice(2), runtime);
Deno.exit(code);
