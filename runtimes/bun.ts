// berth on Bun: `bun run runtimes/bun.ts serve [flags]`. Bun runs the TypeScript sources directly.
import type { Context } from 'hono';
import process from 'node:process';
import { onProcessSignals, runCli } from '../src/cli/main.ts';
import { batchedBody } from '../src/http/batched-body.ts';
import { withSilenceLimit } from '../src/http/silent-body.ts';
import type { FileResponder, Runtime } from '../src/runtime/contract.ts';

interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Sets the idle timer of the connection carrying `request`, in seconds; 0 turns it off. */
  timeout(request: Request, seconds: number): void;
  requestIP(request: Request): { address: string } | null;
}
declare const Bun: {
  file(path: string): Blob;
  serve(options: {
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    hostname: string;
    port: number;
    maxRequestBodySize: number;
    idleTimeout: number;
  }): BunServer;
};

/** In-flight requests get this long to finish after SIGTERM before their connections are closed. */
const drainMs = 10_000;
/** The longest idle timer Bun accepts, in seconds. */
const bunMaxIdle = 255;

/** What the app gets as its env: the server and the request as Bun handed it over. */
interface BunEnv {
  server: BunServer;
  request: Request;
}

/**
 * Bun's one knob is a per-connection idle timer that only writes re-arm: body bytes arriving do
 * not, nor does a handler at work. So it guards idle keep-alive connections only: it is switched
 * off while a request is under way and set again as its response starts; a silent body is found
 * by a watchdog on the body stream (src/http/silent-body.ts), which then sets a 1 s timer to close
 * the connection. A request's headers must arrive within uWS's fixed ~10 s, whatever
 * `server.headersTimeout` says. More in runtimes/README.md.
 */
const serve: Runtime['serve'] = async (app, { hostname, port, limits, logger }) => {
  let idle = Math.ceil(limits.idle / 1000);
  if (idle > bunMaxIdle) {
    logger.warn('server.idleTimeout is above what Bun allows; using its maximum', { idleTimeout: `${idle}s`, used: `${bunMaxIdle}s` });
    idle = bunMaxIdle;
  }
  const fetch = async (request: Request, server: BunServer): Promise<Response> => {
    setIdle(server, request, 0);
    let cut = false;
    const env: BunEnv = { server, request };
    const served = withSilenceLimit(request, limits.bodyIdle, () => {
      cut = true;
      logger.info('connection closed: request body silent', { method: request.method, path: new URL(request.url).pathname, silentMs: limits.bodyIdle });
      setIdle(server, request, 1);
    });
    try {
      return await app.fetch(served, env);
    } finally {
      if (!cut) setIdle(server, request, idle);
    }
  };
  const server = Bun.serve({
    fetch,
    hostname,
    port,
    // Bun refuses bodies over 128 MiB by default; a registry takes layers of many GiB in one PUT.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: idle,
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

function setIdle(server: BunServer, request: Request, seconds: number): void {
  try {
    server.timeout(request, seconds);
  } catch {
    // The connection is gone already.
  }
}

/**
 * Blob GETs as Bun file blobs: Bun sends them with sendfile, and, unlike a stream body, keeps the
 * Content-Length the spec requires (Bun turns a streamed body into chunked encoding).
 */
const sendFile: FileResponder = async (_c, { path, start, end }, init) => new Response(Bun.file(path).slice(start, end + 1), init);

const runtime: Runtime = {
  name: 'bun',
  serve,
  clientAddress: (c: Context) => {
    const env = c.env as BunEnv | undefined;
    return env?.server.requestIP(env.request)?.address;
  },
  fastPaths: {
    sendFile,
    // Upload bodies read into one reused buffer in 256 KiB batches (src/http/batched-body.ts):
    // a default reader allocated a 64 KiB buffer per read, garbage that V8 collects late.
    requestBody: (c) => (c.req.raw.body ? batchedBody(c.req.raw.body) : undefined),
  },
  env: process.env,
  onSignal: onProcessSignals,
};

process.exitCode = await runCli(process.argv.slice(2), runtime);
