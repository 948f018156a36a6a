// berth on Bun: `bun run runtimes/bun.ts serve [flags]`. Bun runs the TypeScript sources directly.
import process from 'node:process';
import { onProcessSignals, runCli, type Runtime } from '../src/cli/main.ts';
import type { Serve } from '../src/cli/server.ts';
import type { FileResponder } from '../src/http/options.ts';

interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
declare const Bun: {
  file(path: string): Blob;
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
    maxRequestBodySize: number;
    idleTimeout: number;
  }): BunServer;
};

/** In-flight requests get this long to finish after SIGTERM before their connections are closed. */
const drainMs = 10_000;

const serve: Serve = async (app, { hostname, port }) => {
  const server = Bun.serve({
    fetch: app.fetch,
    hostname,
    port,
    // Bun refuses bodies over 128 MiB by default; a registry takes layers of many GiB in one PUT.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Seconds; 0 disables the idle timeout so a slow client's long upload is not cut off.
    idleTimeout: 0,
  });
  return {
    address: { hostname, port: server.port },
    close: async () => {
      const timer = setTimeout(() => void server.stop(true), drainMs);
      await server.stop();
      clearTimeout(timer);
    },
  };
};

/**
 * Blob GETs as Bun file blobs: Bun sends them with sendfile, and, unlike a stream body, keeps the
 * Content-Length the spec requires (Bun turns a streamed body into chunked encoding).
 */
const sendFile: FileResponder = async (_c, { path, start, end }, init) => new Response(Bun.file(path).slice(start, end + 1), init);

const runtime: Runtime = {
  name: 'bun',
  serve,
  fastPaths: { sendFile },
  env: process.env,
  onSignal: onProcessSignals,
};

process.exitCode = await runCli(process.argv.slice(2), runtime);
