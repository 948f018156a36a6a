// berth on Deno: `deno run -A runtimes/deno.ts serve [flags]` (or `deno task serve`).
import type { Context } from 'hono';
import process from 'node:process';
import { runCli } from '../src/cli/main.ts';
import { batchedBody } from '../src/http/batched-body.ts';
import { withSilenceLimit } from '../src/http/silent-body.ts';
import { errorFields } from '../src/observability/log.ts';
import type { ConnectionLimits, FileResponder, RunningServer, StatSync, Runtime } from '../src/runtime/contract.ts';

interface DenoFile {
  readonly readable: ReadableStream<Uint8Array>;
  seek(offset: number, whence: 0): Promise<number>;
  stat(): Promise<{ size: number }>;
  close(): void;
}
interface DenoFileInfo {
  isFile: boolean;
  size: number;
  mtime: Date | null;
}
interface NetAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
interface DenoListener {
  readonly addr: NetAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}
interface ServeInfo {
  remoteAddr: NetAddr;
  /** Settles once the response is sent, or the connection is gone. */
  completed: Promise<void>;
}
type ServeHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;
interface DenoHttpServer {
  addr: NetAddr;
  finished: Promise<void>;
  shutdown(): Promise<void>;
}
/** Deno's HTTP server on one accepted connection: what Deno.serve runs per connection inside. */
type ServeConnection = (conn: DenoConn, signal: AbortSignal, handler: ServeHandler, onError: (e: unknown) => Response, onListen: () => void) => DenoHttpServer;
declare const Deno: {
  serve(options: { hostname: string; port: number; onListen?: (addr: NetAddr) => void }, handler: ServeHandler): DenoHttpServer;
  listen(options: { hostname: string; port: number }): DenoListener;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  open(path: string): Promise<DenoFile>;
  statSync(path: string): DenoFileInfo;
  exit(code: number): never;
  readonly internal: symbol;
} & Record<symbol, { serveHttpOnConnection?: ServeConnection } | undefined>;

/** In-flight requests get this long to finish after SIGTERM before the process exits anyway. */
const drainMs = 10_000;
/** Between attempts to accept while the process is out of file descriptors. */
const acceptRetryMs = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const shuttingDown = (): Response =>
  Response.json({ errors: [{ code: 'UNAVAILABLE', message: 'server is shutting down' }] }, { status: 503, headers: { Connection: 'close', 'Retry-After': '1' } });

/**
 * Deno's per-connection server closes the connection when its signal aborts, and that closing
 * throws (uncaught, which ends the process) when the client closed the connection a moment
 * before. Such a failure to close what is closed already is not an error.
 */
let aborting = false;
globalThis.addEventListener('error', (e) => {
  if (aborting) e.preventDefault();
});
function abortQuietly(controller: AbortController): void {
  aborting = true;
  try {
    controller.abort();
  } finally {
    aborting = false;
  }
}

/**
 * One client connection and when it must close if it keeps berth waiting: its first request's
 * headers are due a limit after accept, its next request a limit after its last response is sent.
 * Deno parses HTTP out of sight, so a later request's headers arriving slowly count as idle time.
 * A deadline rather than a timer per request: re-arming a timer on every request cost a quarter of
 * the small-request throughput; one sweep per server (`sweepEvery`) checks them all.
 */
class Connection {
  readonly #abort = new AbortController();
  readonly #limits: ConnectionLimits;
  #http: DenoHttpServer | undefined;
  #inFlight = 0;
  #closed = false;
  /** Epoch ms after which it is closed; 0: not while a request is under way (or no limit). */
  #deadline: number;

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
    this.#deadline = limits.headers > 0 ? Date.now() + limits.headers : 0;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get idle(): boolean {
    return this.#inFlight === 0;
  }

  /** Deno's server on this connection, which `close` asks to shut down. */
  attach(http: DenoHttpServer): void {
    this.#http = http;
  }

  begin(): void {
    this.#inFlight++;
    this.#deadline = 0;
  }

  /** A response is sent (or its connection gone); a connection left idle starts its idle clock. */
  end(draining: boolean): void {
    if (--this.#inFlight > 0) return;
    if (draining) this.close();
    else if (this.#limits.idle > 0) this.#deadline = Date.now() + this.#limits.idle;
  }

  /** Closes it if its deadline has passed. */
  sweep(now: number): void {
    if (this.#deadline !== 0 && now >= this.#deadline) this.close();
  }

  /**
   * Closes it once what is under way is done (at once when idle, or while headers are still
   * arriving). Aborting instead could drop a response Deno has not finished writing.
   */
  close(): void {
    this.#deadline = 0;
    if (!this.#closed) void this.#http?.shutdown().catch(() => undefined);
  }

  /** Closes it now, cutting off whatever is under way (a body gone silent). */
  cut(): void {
    this.#deadline = 0;
    if (this.#closed) return;
    this.#closed = true;
    abortQuietly(this.#abort);
  }

  /** Deno is done with it (the client closed it, or berth did). */
  finished(): void {
    this.#deadline = 0;
    this.#closed = true;
  }
}

/** How often deadlines are checked: a tenth of the shortest limit, between 50 ms and 1 s. */
function sweepEvery({ idle, headers }: ConnectionLimits): number {
  const shortest = Math.min(...[idle, headers].filter((ms) => ms > 0));
  return Number.isFinite(shortest) ? Math.min(1000, Math.max(50, Math.round(shortest / 10))) : 0;
}

/**
 * Deno.serve has no connection limits and ends the process when accept fails (EMFILE), so berth
 * runs Deno's HTTP server one accepted connection at a time (the function Deno.serve runs inside,
 * `serveHttpOnConnection`) and owns the accept loop: a failed accept waits and tries again, and
 * each connection's timer closes it when it sits idle. A silent body is found by a watchdog on
 * the body stream (src/http/silent-body.ts). More in runtimes/README.md.
 */
const serve: Runtime['serve'] = async (app, { hostname, port, limits, logger }) => {
  const serveConnection = Deno[Deno.internal]?.serveHttpOnConnection;
  if (typeof serveConnection !== 'function') {
    logger.warn('this Deno has no serveHttpOnConnection: connection limits are not enforced and running out of file descriptors ends the process');
    return serveWithoutLimits(app.fetch, hostname, port);
  }
  const listener = Deno.listen({ hostname, port });
  const connections = new Set<Connection>();
  let draining = false;

  const handle = (conn: Connection, request: Request, info: ServeInfo): Promise<Response> | Response => {
    conn.begin();
    info.completed.then(
      () => conn.end(draining),
      () => conn.end(draining),
    );
    // Deno cannot stop taking requests on a kept-alive connection, so late ones are turned away.
    if (draining) return shuttingDown();
    const served = withSilenceLimit(request, limits.bodyIdle, () => {
      logger.info('connection closed: request body silent', { method: request.method, path: new URL(request.url).pathname, silentMs: limits.bodyIdle });
      conn.cut();
    });
    return app.fetch(served, info);
  };
  const onError = (e: unknown): Response => {
    logger.error('request failed', errorFields(e));
    return Response.json({ errors: [{ code: 'UNKNOWN', message: 'internal server error' }] }, { status: 500 });
  };

  const tick = sweepEvery(limits);
  const sweep = (): void => {
    const now = Date.now();
    for (const conn of connections) conn.sweep(now);
  };
  const sweeper = tick > 0 ? setInterval(sweep, tick) : undefined;

  const accepting = (async () => {
    let warned = 0;
    for (;;) {
      let socket: DenoConn;
      try {
        socket = await listener.accept();
      } catch (e) {
        if (draining) return;
        // Out of file descriptors, most likely: the connection waits in the kernel's queue until
        // others close. One line per 10 s, not one per attempt.
        if (Date.now() - warned > 10_000) {
          warned = Date.now();
          logger.warn('cannot accept connections; retrying', { error: e instanceof Error ? e.message : String(e) });
        }
        await sleep(acceptRetryMs);
        continue;
      }
      const conn = new Connection(limits);
      connections.add(conn);
      const forget = (): void => {
        conn.finished();
        connections.delete(conn);
      };
      try {
        socket.setNoDelay(true);
        const http = serveConnection(socket, conn.signal, (request, info) => handle(conn, request, info), onError, () => undefined);
        conn.attach(http);
        http.finished.catch(() => undefined).finally(forget);
      } catch (e) {
        logger.warn('cannot serve a connection', { error: e instanceof Error ? e.message : String(e) });
        forget();
        try {
          socket.close();
        } catch {
          // closed already
        }
      }
    }
  })();

  return {
    address: { hostname, port: listener.addr.port },
    close: async () => {
      draining = true;
      clearInterval(sweeper);
      listener.close();
      await accepting;
      for (const conn of connections) if (conn.idle) conn.close();
      const deadline = Date.now() + drainMs;
      while (connections.size > 0 && Date.now() < deadline) await sleep(50);
      for (const conn of connections) conn.cut();
    },
  };
};

/** Deno.serve as it is, for a Deno without the per-connection server (see `serve`). */
function serveWithoutLimits(fetch: (request: Request, info: ServeInfo) => Response | Promise<Response>, hostname: string, port: number): RunningServer {
  let inFlight = 0;
  let draining = false;
  const server = Deno.serve({ hostname, port, onListen: () => undefined }, async (request, info) => {
    if (draining) return shuttingDown();
    inFlight++;
    try {
      return await fetch(request, info);
    } finally {
      inFlight--;
    }
  });
  return {
    address: { hostname, port: server.addr.port },
    close: async () => {
      // Deno's shutdown() cuts off request bodies still arriving: wait for requests in flight first.
      draining = true;
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) await sleep(50);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([server.shutdown(), new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Blob GETs that run to the end of the file as Deno's own file stream, which moves bytes without
 * a JavaScript read loop (bench/). A range that stops short of the end takes the portable path.
 */
const sendFile: FileResponder = async (_c, { path, start, end }, init) => {
  let file: DenoFile;
  try {
    file = await Deno.open(path);
  } catch {
    return undefined;
  }
  if ((await file.stat()).size !== end + 1) {
    file.close();
    return undefined;
  }
  if (start > 0) await file.seek(start, 0);
  return new Response(file.readable, init);
};

/**
 * Deno.statSync: a blob HEAD stats twice (link and bytes), and each of node:fs's async stats cost
 * ~40 µs of CPU on Deno (Deno.stat ~25 µs: a round trip to a blocking-pool thread, on one core two
 * context switches; node:fs's statSync ~15 µs, building Node's Stats), Deno.statSync ~4 µs. A HEAD
 * on a server pinned to one core took ~190 µs of CPU, ~107 µs with this (bench/README.md). It
 * holds the event loop for the syscall, as nginx's stat and open do: microseconds while the inode
 * is cached, a disk read when it is not.
 */
const statSync: StatSync = (path) => {
  let s: DenoFileInfo;
  try {
    s = Deno.statSync(path);
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
  // Null only where the platform has no mtime; "now" keeps such a file young, never collectable.
  return { isFile: s.isFile, size: s.size, mtime: s.mtime ?? new Date() };
};

const runtime: Runtime = {
  name: 'deno',
  serve,
  clientAddress: (c: Context) => (c.env as ServeInfo | undefined)?.remoteAddr?.hostname,
  fastPaths: {
    sendFile,
    // Upload bodies read into one reused buffer instead of a fresh 64 KiB one per read, garbage V8
    // collects only late: a 1 GiB PUT peaked ~100 MiB above idle, now ~14 MiB, at half the CPU.
    requestBody: (c) => (c.req.raw.body ? batchedBody(c.req.raw.body) : undefined),
    statSync,
  },
  env: process.env,
  onSignal: (handler) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) Deno.addSignalListener(signal, () => handler(signal));
  },
};

const code = await runCli(process.argv.slice(2), runtime);
Deno.exit(code);
