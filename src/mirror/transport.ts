import { Agent, request, type Dispatcher } from 'undici';
import { tracing } from '../observability/otel/hooks.ts';
import { OciError } from '../oci/errors.ts';
import { Bandwidth, Slots, type SlotsObserver } from './limits.ts';
import type { MirrorOptions } from './schema.ts';

export interface UpstreamResponse {
  status: number;
  /** Lower-case names, first value of each. */
  headers: Record<string, string>;
  /** The body as a web stream (null for HEAD); the caller reads or cancels it. */
  body: ReadableStream<Uint8Array> | null;
}

export type Method = 'GET' | 'HEAD';

type Timeouts = MirrorOptions['timeouts'];

export interface TransportOptions {
  /** The upstream's name, for errors clients see. */
  upstream: string;
  timeouts: Timeouts;
  /** Requests at once (0: no limit). */
  maxConnections: number;
  /** Bytes per second of all bodies together (0: no limit). */
  maxBytesPerSecond: number;
  onSlots?: SlotsObserver | undefined;
  /** Told of every body chunk received, and how long the bandwidth cap held it back. */
  onReceived?: Received | undefined;
}

export type Received = (bytes: number, throttledMs: number) => void;

/** Told when a body already being read fails (the upstream stopped sending, or went silent). */
export type BodyFailure = (error: unknown) => void;

const redirects = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

type NodeBody = AsyncIterable<Uint8Array> & { destroy?(error?: Error): unknown; on?(event: 'error', listener: () => void): unknown };

/**
 * HTTP to one upstream, whichever of its URLs: a keep-alive connection pool (undici Agent, which
 * also pools the CDN hosts blob downloads redirect to), timeouts, redirects, and the upstream's
 * caps: each exchange holds one of `maxConnections` slots from sending until its body is done, and
 * every body draws on one `maxBytesPerSecond` bucket.
 */
export class Transport {
  readonly #name: string;
  readonly #agent: Dispatcher;
  readonly #timeouts: Timeouts;
  readonly #slots: Slots;
  readonly #bandwidth: Bandwidth | undefined;
  readonly #onReceived: Received | undefined;

  constructor(opts: TransportOptions) {
    this.#name = opts.upstream;
    this.#timeouts = opts.timeouts;
    this.#slots = new Slots(opts.maxConnections, opts.onSlots);
    this.#bandwidth = opts.maxBytesPerSecond > 0 ? new Bandwidth(opts.maxBytesPerSecond) : undefined;
    this.#onReceived = opts.onReceived;
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: opts.timeouts.connect },
      headersTimeout: opts.timeouts.headers,
      bodyTimeout: opts.timeouts.body,
      // The slots already bound requests at once; this bounds the sockets kept per host to match.
      ...(opts.maxConnections > 0 ? { connections: opts.maxConnections } : {}),
    });
  }

  /** One request with redirects; `Authorization` is dropped when a redirect leaves the origin. */
  async send(method: Method, start: URL, headers: Record<string, string>, onBodyFailure?: BodyFailure): Promise<UpstreamResponse> {
    let url = start;
    let sent = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(method, url, sent, onBodyFailure);
      const location = res.headers.location;
      if (!redirects.has(res.status) || location === undefined || hop >= maxRedirects) return res;
      await discard(res.body);
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        const { Authorization: _dropped, ...rest } = sent;
        sent = rest;
      }
      url = next;
    }
  }

  async #once(method: Method, url: URL, headers: Record<string, string>, onBodyFailure: BodyFailure | undefined): Promise<UpstreamResponse> {
    // Waiting for a slot is not the upstream's slowness: the timeouts start once it is ours.
    const release = await this.#slots.acquire();
    // undici has its own timeouts; this one also bounds runtimes whose undici ignores them (Bun).
    const abort = new AbortController();
    const limit = this.#timeouts.connect + this.#timeouts.headers;
    const timer = setTimeout(() => abort.abort(new Error(`no response headers in ${limit / 1000}s`)), limit);
    // Each hop (a challenge, a token, a redirect) is a span of its own, and carries the trace on.
    const hop = tracing?.client(method, url);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method, headers: hop ? { ...headers, traceparent: hop.traceparent() } : headers, dispatcher: this.#agent, signal: abort.signal });
      hop?.set('http.response.status_code', res.statusCode);
      hop?.end();
    } catch (e) {
      release();
      hop?.end(e);
      throw unavailable(this.#name, e);
    } finally {
      clearTimeout(timer);
    }
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? (v[0] ?? '') : v;
    const body = res.body as unknown as NodeBody;
    if (method === 'HEAD') {
      await discard(webStream(body, { idleMs: 1000, release }));
      return { status: res.statusCode, headers: flat, body: null };
    }
    return { status: res.statusCode, headers: flat, body: webStream(body, { idleMs: this.#timeouts.body, release, bandwidth: this.#bandwidth, onFailure: onBodyFailure, onReceived: this.#onReceived }) };
  }

  async close(): Promise<void> {
    const agent = this.#agent as Partial<Pick<Dispatcher, 'close'>>;
    await agent.close?.call(this.#agent);
  }
}

const reasons: Array<[RegExp, string]> = [
  [/^ECONNREFUSED$/, 'connection refused'],
  [/^(ENOTFOUND|EAI_AGAIN)$/, 'host name not found'],
  [/^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT)$/, 'connection timed out'],
  [/^(UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|ABORT_ERR)$/, 'no answer in time'],
  [/^(ECONNRESET|EPIPE|UND_ERR_CLOSED)$/, 'connection reset'],
  [/CERT|SSL|TLS/, 'TLS failure'],
];

/**
 * An upstream that cannot be reached, as clients see it: which upstream and what kind of failure,
 * never its host or port (the log has those, from the cause).
 */
export const unavailable = (upstream: string, e: unknown): OciError => {
  let reason = 'request failed';
  // The first code along the causes that names a failure (undici wraps the system's error).
  for (let at: unknown = e, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    const code = (at as { code?: unknown }).code;
    const known = typeof code === 'string' ? reasons.find(([re]) => re.test(code)) : undefined;
    if (known) {
      reason = known[1];
      break;
    }
  }
  return new OciError('UNAVAILABLE', `upstream ${upstream} is unavailable: ${reason}`, { detail: { upstream }, cause: e });
};

interface BodyOptions {
  /** Longest silence before the body errors. */
  idleMs: number;
  /** Gives the connection slot back: at the end, on an error, on cancel. */
  release: () => void;
  bandwidth?: Bandwidth | undefined;
  onFailure?: BodyFailure | undefined;
  onReceived?: Received | undefined;
}

/**
 * A Node-style body as a pull-based web stream: nothing is read ahead of the consumer, and a
 * body that stays silent longer than `idleMs` errors instead of hanging its readers. Under a
 * bandwidth cap each chunk waits for the bucket before it is passed on, so the socket is read no
 * faster than the cap and TCP slows the sender.
 */
function webStream(body: NodeBody, opts: BodyOptions): ReadableStream<Uint8Array> {
  // Errors reach the reader through the iterator; without a listener, destroying the body on
  // cancel would also emit an 'error' event nobody handles, which takes the process down.
  body.on?.('error', () => undefined);
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<never>((_, fail) => {
          timer = setTimeout(() => fail(new Error(`upstream body silent for ${opts.idleMs / 1000}s`)), opts.idleMs);
        });
        let r: IteratorResult<Uint8Array>;
        try {
          r = await Promise.race([it.next(), idle]);
        } catch (e) {
          body.destroy?.();
          opts.release();
          opts.onFailure?.(e);
          throw e;
        } finally {
          clearTimeout(timer);
        }
        if (r.done) {
          opts.release();
          ctl.close();
          return;
        }
        const throttledMs = (await opts.bandwidth?.take(r.value.byteLength)) ?? 0;
        opts.onReceived?.(r.value.byteLength, throttledMs);
        ctl.enqueue(r.value);
      },
      cancel() {
        body.destroy?.();
        opts.release();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Small bodies are read to their end so the connection goes back to the pool; larger ones are cut. */
const drainLimit = 64 << 10;

/** Drops a body we do not use (an error page, a redirect, a 401). */
export async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (let read = 0; read <= drainLimit; ) {
      const r = await reader.read();
      if (r.done) return;
      read += r.value.byteLength;
    }
    await reader.cancel();
  } catch {
    // Nothing to keep from a body we are dropping.
  }
}
