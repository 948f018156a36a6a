import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to one request instead of (or while) passing it on. */
export type Fault =
  /** Answer this status (with these headers, and this body instead of an error envelope) without asking the upstream. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Uint8Array }
  /** Wait `ms` before passing the request on, then apply `then` if given. */
  | { kind: 'delay'; ms: number; then?: Fault }
  /** Hold the request until `until` settles, then pass it on (or apply `then` if given). */
  | { kind: 'hold'; until: Promise<unknown>; then?: Fault }
  /** Forward the head and this many body bytes, then cut the connection. */
  | { kind: 'truncate'; bytes: number }
  /** Destroy the connection without answering. */
  | { kind: 'reset' }
  /** Forward the body in pieces of `bytes`, `ms` apart; with `cutAfter`, cut the connection after that many bytes. */
  | { kind: 'slow'; bytes: number; ms: number; cutAfter?: number }
  /** Forward the head as it is and the body with every byte inverted: garbage of the right length. */
  | { kind: 'garble' }
  /**
   * Declare `length` as the Content-Length and send that many bytes: the upstream's body cut short
   * or padded with random bytes, a well-framed answer of the wrong size. With `cut`, a body shorter
   * than `length` is not padded: the connection is cut after it.
   */
  | { kind: 'length'; length: number; cut?: boolean }
  /** Answer 307 to the same path on another origin. */
  | { kind: 'redirect'; to: string }
  /** Pass the request on and add these headers to the upstream's answer (a rate limit's, say). */
  | { kind: 'headers'; headers: Record<string, string> };

export interface SeenRequest {
  /** When it arrived (Date.now()). */
  at: number;
  method: string;
  path: string;
  authorization: string | undefined;
  accept: string | undefined;
  /** The upstream's status, once it answered (requests the proxy answers itself have none). */
  status?: number;
}

export interface ProxyOptions {
  /** Require a Bearer token (Docker's token dance) with this token service's Basic credentials. */
  token?: { username: string; password: string; expiresIn?: number };
  /**
   * Pass `Host` on as the client sent it (the proxy's own address) instead of the target's: a
   * public name of the same server. S3's signatures cover `Host`, so this decides which host a
   * presigned URL must have been signed for.
   */
  keepHost?: boolean;
}

export interface FaultProxy {
  url: string;
  host: string;
  requests: SeenRequest[];
  /** Requests whose method matches and whose path matches `path` (a substring or a pattern). */
  count(method: string, path?: string | RegExp): number;
  /** Chooses a fault per request; undefined passes it through. */
  fault: ((req: SeenRequest) => Fault | undefined) | undefined;
  /** Token requests the token service answered. */
  tokenRequests: Array<{ authorization: string | undefined; query: string }>;
  /**
   * Registry requests being answered now, each from its arrival until the last byte of its answer
   * is written (or its connection is gone), and the most at once since the last reset.
   */
  inFlight: number;
  peakInFlight: number;
  reset(): void;
  /** Forgets every token issued, as a restarted token service would. */
  revokeTokens(): void;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A fault-injecting HTTP proxy in front of a registry: counts requests by method and path, and can
 * delay, truncate, reset, slow down, redirect, answer any status, corrupt a body or lie about its length. With `token`, it also plays a
 * token-protected registry and its token service.
 */
export async function startFaultProxy(target: string, opts: ProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: SeenRequest[] = [];
  const tokenRequests: FaultProxy['tokenRequests'] = [];
  const issued = new Set<string>();
  let self = '';

  const state: FaultProxy = {
    url: '',
    host: '',
    requests,
    tokenRequests,
    fault: undefined,
    inFlight: 0,
    peakInFlight: 0,
    count: (method, path) =>
      requests.filter((r) => r.method === method && (path === undefined || (typeof path === 'string' ? r.path.includes(path) : path.test(r.path))))
        .length,
    reset: () => {
      requests.length = 0;
      tokenRequests.length = 0;
      state.fault = undefined;
      state.peakInFlight = state.inFlight;
    },
    revokeTokens: () => issued.clear(),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  /**
   * Counts `res` in flight until its last byte is written: the client may send its next request
   * as soon as it has all of Content-Length, before the proxy's own `end()` (a slow body sleeps
   * after its last piece), and that next request must not overlap this one in the count.
   */
  const countInFlight = (res: ServerResponse): void => {
    state.inFlight++;
    state.peakInFlight = Math.max(state.peakInFlight, state.inFlight);
    let over = false;
    const finish = (): void => {
      if (over) return;
      over = true;
      state.inFlight--;
    };
    let written = 0;
    let length = Number.POSITIVE_INFINITY;
    const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, unknown>) => ServerResponse;
    res.writeHead = ((status: number, headers?: Record<string, unknown>) => {
      const announced = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'content-length')?.[1];
      if (announced !== undefined) length = Number(announced);
      return writeHead(status, headers);
    }) as ServerResponse['writeHead'];
    const write = res.write.bind(res) as (chunk: Uint8Array, ...rest: unknown[]) => boolean;
    res.write = ((chunk: Uint8Array, ...rest: unknown[]) => {
      const ok = write(chunk, ...rest);
      written += chunk.byteLength;
      if (written >= length) finish();
      return ok;
    }) as ServerResponse['write'];
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      const out = end(...args);
      finish();
      return out;
    }) as ServerResponse['end'];
    res.once('close', finish);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    if (opts.token && path.startsWith('/token')) {
      tokenRequests.push({ authorization: req.headers.authorization, query: path.slice(path.indexOf('?') + 1) });
      const want = `Basic ${Buffer.from(`${opts.token.username}:${opts.token.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      const token = randomBytes(16).toString('hex');
      issued.add(token);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: opts.token.expiresIn ?? 300 }));
      return;
    }
    const seen: SeenRequest = { at: Date.now(), method: req.method ?? 'GET', path, authorization: req.headers.authorization, accept: req.headers.accept };
    requests.push(seen);
    countInFlight(res);
    if (opts.token && path.startsWith('/v2/')) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !issued.has(bearer)) {
        const repo = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1] ?? '';
        res
          .writeHead(401, {
            'WWW-Authenticate': `Bearer realm="${self}/token",service="fault-proxy",scope="repository:${repo}:pull"`,
            'Content-Type': 'application/json',
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}');
        return;
      }
    }
    let fault = state.fault?.(seen);
    if (fault?.kind === 'delay') {
      await sleep(fault.ms);
      fault = fault.then;
    }
    if (fault?.kind === 'hold') {
      await fault.until.catch(() => undefined);
      fault = fault.then;
    }
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'Content-Type': 'application/json', ...fault.headers }).end(fault.body ?? '{"errors":[{"code":"UNAVAILABLE","message":"fault"}]}');
      return;
    }
    if (fault?.kind === 'redirect') {
      res.writeHead(307, { Location: `${fault.to}${path}` }).end();
      return;
    }
    const headers = opts.keepHost ? { ...req.headers } : { ...req.headers, host: upstream.host };
    // Playing the token service, the proxy is the one checking credentials; otherwise they pass
    // through, so the upstream behind it can ask for its own.
    if (opts.token) delete headers.authorization;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers }, async (up) => {
      seen.status = up.statusCode;
      const head = { ...up.headers, ...(fault?.kind === 'headers' ? fault.headers : {}) };
      if (fault?.kind === 'length') head['content-length'] = String(fault.length);
      res.writeHead(up.statusCode ?? 502, head);
      // Flush what was written, then drop the connection mid-body.
      const cut = (): void => void setTimeout(() => res.socket?.destroy(), 50);
      // As a registry writes: no faster than the client reads. Ended with its bytes still queued
      // here, the answer would count as done, and the connection's keep-alive timeout (5 s) would
      // close it under a client that reads slowly (a bandwidth cap), cutting the body short.
      const send = async (chunk: Uint8Array): Promise<void> => {
        if (res.write(chunk) || res.destroyed) return;
        await new Promise<void>((go) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            go();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      };
      let sent = 0;
      for await (const piece of up as AsyncIterable<Buffer>) {
        if (fault?.kind === 'truncate' || fault?.kind === 'length') {
          const limit = fault.kind === 'truncate' ? fault.bytes : fault.length;
          const room = limit - sent;
          if (room <= 0) break;
          res.write(piece.subarray(0, room));
          sent += Math.min(room, piece.byteLength);
          if (sent >= limit) break;
          continue;
        }
        if (fault?.kind === 'slow') {
          for (let at = 0; at < piece.byteLength; at += fault.bytes) {
            const part = piece.subarray(at, at + fault.bytes);
            if (fault.cutAfter !== undefined && sent + part.byteLength > fault.cutAfter) {
              res.write(part.subarray(0, fault.cutAfter - sent));
              return cut();
            }
            await send(part);
            sent += part.byteLength;
            await sleep(fault.ms);
          }
          continue;
        }
        if (fault?.kind === 'garble') {
          const inverted = Buffer.from(piece);
          for (let i = 0; i < inverted.length; i++) inverted[i] = inverted[i]! ^ 0xff;
          await send(inverted);
          continue;
        }
        await send(piece);
      }
      if (fault?.kind === 'truncate') return cut();
      if (fault?.kind === 'length' && sent < fault.length) {
        if (fault.cut) return cut();
        res.write(randomBytes(fault.length - sent));
      }
      res.end();
    });
    out.on('error', () => res.socket?.destroy());
    req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  // Node's 5 s default destroys a kept-alive connection whose last write is still pending, which
  // cuts the body short under a client that reads it slowly (berth under maxBytesPerSecond).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  self = `http://127.0.0.1:${port}`;
  state.url = self;
  state.host = `127.0.0.1:${port}`;
  return state;
}
