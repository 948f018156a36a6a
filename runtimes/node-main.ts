import { createAdaptorServer } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import { open, type FileHandle } from 'node:fs/promises';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onProcessSignals, runCli } from '../src/cli/main.ts';
import type { Logger } from '../src/observability/log.ts';
import type { FileResponder, Runtime } from '../src/runtime/contract.ts';
import { sendFileRange } from './node-file-sender.ts';
import { releaseAfterStartup } from './node-startup.ts';

/** In-flight requests get this long to finish after SIGTERM before their sockets are closed. */
const drainMs = 10_000;

/** What @hono/node-server hands the app as its env. */
interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}
const nodeEnv = (c: Context): NodeEnv | undefined => c.env as NodeEnv | undefined;

/**
 * Node's own limits do most of it: `keepAliveTimeout` (idle), `headersTimeout`, and no total
 * `requestTimeout` (its 300 s default cut long uploads). A body's silence has no knob of its own;
 * `watchBodySilence` builds it on the socket's inactivity timer.
 */
const serve: Runtime['serve'] = (app, { hostname, port, limits, logger }) =>
  new Promise((resolve, reject) => {
    const server = createAdaptorServer({
      fetch: app.fetch,
      serverOptions: {
        keepAliveTimeout: limits.idle,
        headersTimeout: limits.headers,
        requestTimeout: 0,
        // How often expired headers are looked for (30 s by default, which would stretch a short limit).
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.round(limits.headers / 10))),
      },
    }) as HttpServer;
    if (limits.bodyIdle > 0) server.on('request', (req: IncomingMessage, res: ServerResponse) => watchBodySilence(req, res, limits.bodyIdle, logger));
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      releaseAfterStartup();
      // A listening server's errors (a failed accept) are logged; unhandled, they would end the process.
      server.on('error', (e) => logger.warn('server error', { error: e.message }));
      const address = server.address() as AddressInfo;
      resolve({
        address: { hostname, port: address.port },
        close: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), drainMs);
            // Keep-alive connections that fall idle once their request ends would hold close()
            // open until their timeout; sweep them as they go quiet.
            const sweep = setInterval(() => server.closeIdleConnections(), 100);
            server.close(() => {
              clearTimeout(timer);
              clearInterval(sweep);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });

/**
 * Closes the connection of a request whose body stops arriving for `ms`. The socket's inactivity
 * timer runs while the body is incomplete; when it fires with the socket paused, berth is the one
 * not reading (backpressure from a slow disk), so the clock starts again. Once the body is in, the
 * timer is dropped: the handler's own time is not the client's silence.
 */
function watchBodySilence(req: IncomingMessage, res: ServerResponse, ms: number, logger: Logger): void {
  // Node emits 'request' before it has seen a bodiless request end, so `complete` alone cannot tell.
  const { 'content-length': length, 'transfer-encoding': encoding } = req.headers;
  if (req.complete || (encoding === undefined && (length === undefined || length === '0'))) return;
  const socket = req.socket;
  socket.setTimeout(ms);
  // Node emits a socket's timeout on its current response (and on the request while incomplete);
  // with a listener there, Node leaves the socket to us.
  res.on('timeout', () => {
    if (req.complete) socket.setTimeout(0);
    else if (socket.isPaused()) socket.setTimeout(ms);
    else {
      logger.info('connection closed: request body silent', { method: req.method, path: req.url?.split('?')[0], silentMs: ms });
      socket.destroy();
    }
  });
}

/**
 * Blob GETs read from the file straight into Node's response through two reused buffers: about
 * 3x the throughput of a web ReadableStream through the adapter, and without the per-read buffers
 * of a piped fs stream, whose garbage made the speed depend on when V8 last collected
 * (runtimes/node-file-sender.ts, bench/README.md).
 */
const sendFile: FileResponder = async (c, { path, start, end }, { status, headers }) => {
  const outgoing = nodeEnv(c)?.outgoing;
  if (!outgoing) return undefined;
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch {
    return undefined; // gone since it was found: let the portable path report it
  }
  outgoing.writeHead(status, headers);
  // A failed read has destroyed the response: the client sees a cut body, which is all it can be told now.
  void sendFileRange(file, outgoing, start, end)
    .catch(() => undefined)
    .finally(() => file.close().catch(() => undefined));
  return RESPONSE_ALREADY_SENT;
};

const runtime: Runtime = {
  name: 'node',
  serve,
  clientAddress: (c) => nodeEnv(c)?.incoming?.socket.remoteAddress,
  fastPaths: {
    sendFile,
    // Upload bodies read from Node's own request stream: no per-chunk copy, no web-stream
    // wrappers (measured: ~265 MB/s against ~183 MB/s through c.req.raw.body for a 1 GiB PUT).
    requestBody: (c) => nodeEnv(c)?.incoming,
  },
  env: process.env,
  onSignal: onProcessSignals,
};

process.exitCode = await runCli(process.argv.slice(2), runtime);
