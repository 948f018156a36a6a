import { Agent, request, type Dispatcher } from 'undici';
import type { Duration } from '../config/duration.ts';
import { tracing, within } from '../observability/otel/hooks.ts';
import { OciError } from '../oci/errors.ts';
import { defaultPrefix, dockerHubAliases, isDockerHub, type MirrorOptions, type UpstreamOptions } from './schema.ts';
import { basicAuth, parseChallenge, TokenCache, type Credentials } from './token.ts';

export interface UpstreamResponse {
  status: number;
  /** Lower-case names, first value of each. */
  headers: Record<string, string>;
  /** The body as a web stream (null for HEAD); the caller reads or cancels it. */
  body: ReadableStream<Uint8Array> | null;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** The upstream repository the request is about; it names the token scope. */
  repository: string;
  /** Path under `/v2/<repository>/`, e.g. `manifests/latest`. */
  path: string;
  accept?: string;
}

type Timeouts = MirrorOptions['timeouts'];

const redirects = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

type NodeBody = AsyncIterable<Uint8Array> & { destroy?(error?: Error): unknown; on?(event: 'error', listener: () => void): unknown };

/**
 * One upstream registry: a keep-alive connection pool (undici Agent, which also pools the CDN hosts
 * blob downloads redirect to), timeouts, redirects, and the token dance. Only credentials from the
 * configuration ever go upstream; nothing of the client's request is forwarded but `Accept`.
 */
/** Told of every request to an upstream (metrics); `status` is 'error' when none came back. */
export type UpstreamObserver = (event: { upstream: string; method: string; status: number | 'error' }) => void;

export class Upstream {
  readonly name: string;
  readonly url: URL;
  readonly prefix: string;
  /** Names the upstream answers to in containerd's `?ns=`. */
  readonly aliases: ReadonlySet<string>;
  readonly libraryPrefix: boolean;
  readonly tagTtl: Duration;
  readonly #agent: Dispatcher;
  readonly #timeouts: Timeouts;
  readonly #credentials: Credentials | undefined;
  readonly #tokens: TokenCache;
  /** Set once the upstream asked for Basic auth, so later requests send it up front. */
  #basic = false;

  readonly #observe: UpstreamObserver | undefined;

  constructor(opts: UpstreamOptions, timeouts: Timeouts, observe?: UpstreamObserver) {
    this.#observe = observe;
    this.name = opts.name;
    this.url = new URL(opts.url.replace(/\/+$/, ''));
    const dockerHub = isDockerHub(this.url);
    this.prefix = opts.prefix ?? defaultPrefix(this.url);
    this.aliases = new Set([opts.name, this.prefix, this.url.host, this.url.hostname, ...(dockerHub ? dockerHubAliases : [])]);
    this.libraryPrefix = opts.libraryPrefix ?? dockerHub;
    this.tagTtl = opts.tagTtl;
    this.#timeouts = timeouts;
    this.#credentials = opts.username !== undefined && opts.password !== undefined ? { username: opts.username, password: opts.password } : undefined;
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { timeout: timeouts.connect },
      headersTimeout: timeouts.headers,
      bodyTimeout: timeouts.body,
    });
    this.#tokens = new TokenCache(
      (url, headers) =>
        within(
          tracing?.start('upstream token', 'internal', { 'berth.upstream': this.name }),
          async () => {
            const res = await this.#send('GET', new URL(url), headers);
            return { status: res.status, text: res.body ? await new Response(res.body).text() : '' };
          },
          (r) => ({ 'http.response.status_code': r.status }),
        ),
      this.#credentials,
    );
  }

  /**
   * Sends a request, answering a 401 challenge once (Bearer token or Basic) and following
   * redirects. Network failures and timeouts become UNAVAILABLE errors.
   */
  async fetch(req: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      const span = tracing?.start(`upstream ${req.method}`, 'internal', { 'berth.upstream': this.name, 'berth.upstream.repository': req.repository });
      const res = await within(span, () => this.#fetch(req), (r) => ({ 'http.response.status_code': r.status }));
      this.#observe?.({ upstream: this.name, method: req.method, status: res.status });
      return res;
    } catch (e) {
      this.#observe?.({ upstream: this.name, method: req.method, status: 'error' });
      throw e;
    }
  }

  async #fetch(req: UpstreamRequest): Promise<UpstreamResponse> {
    const url = new URL(`${this.url.pathname.replace(/\/$/, '')}/v2/${req.repository}/${req.path}`, this.url);
    const scope = `repository:${req.repository}:pull`;
    const headers: Record<string, string> = { 'User-Agent': 'berth-mirror' };
    if (req.accept) headers.Accept = req.accept;
    const token = this.#tokens.cached(scope);
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.#basic && this.#credentials) headers.Authorization = basicAuth(this.#credentials);

    const first = await this.#send(req.method, url, headers);
    if (first.status !== 401) return first;
    const challenge = parseChallenge(first.headers['www-authenticate']);
    await discard(first.body);
    if (challenge?.scheme === 'bearer') {
      // The challenge's scope is what the upstream wants; without one, ask for pull on the repository.
      const params = { ...challenge.params, scope: challenge.params.scope ?? scope };
      // A token shared from a request that began before the upstream revoked its tokens can be dead
      // on arrival: one more token request, not shared, settles it.
      for (let attempt = 0; ; attempt++) {
        this.#tokens.forget(scope);
        let fresh: string;
        try {
          fresh = await this.#tokens.obtain(scope, { scheme: 'bearer', params }, attempt > 0);
        } catch (e) {
          throw new OciError('UNAVAILABLE', `upstream ${this.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
        tracing?.annotate('berth.upstream.retries', attempt + 1);
        const res = await this.#send(req.method, url, { ...headers, Authorization: `Bearer ${fresh}` });
        if (res.status !== 401 || attempt > 0) return res;
        await discard(res.body);
      }
    }
    if (challenge?.scheme === 'basic' && this.#credentials) {
      this.#basic = true;
      tracing?.annotate('berth.upstream.retries', 1);
      return this.#send(req.method, url, { ...headers, Authorization: basicAuth(this.#credentials) });
    }
    return { ...first, body: null };
  }

  /** One request with redirects; `Authorization` is dropped when a redirect leaves the origin. */
  async #send(method: 'GET' | 'HEAD', start: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    let url = start;
    let sent = headers;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(method, url, sent);
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

  async #once(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
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
      hop?.end(e);
      throw unavailable(this.name, e);
    } finally {
      clearTimeout(timer);
    }
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? (v[0] ?? '') : v;
    const body = res.body as unknown as NodeBody;
    if (method === 'HEAD') {
      await discard(webStream(body, 1000));
      return { status: res.statusCode, headers: flat, body: null };
    }
    return { status: res.statusCode, headers: flat, body: webStream(body, this.#timeouts.body) };
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

/**
 * A Node-style body as a pull-based web stream: nothing is read ahead of the consumer, and a
 * body that stays silent longer than `idleMs` errors instead of hanging its readers.
 */
function webStream(body: NodeBody, idleMs: number): ReadableStream<Uint8Array> {
  // Errors reach the reader through the iterator; without a listener, destroying the body on
  // cancel would also emit an 'error' event nobody handles, which takes the process down.
  body.on?.('error', () => undefined);
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<never>((_, fail) => {
          timer = setTimeout(() => fail(new Error(`upstream body silent for ${idleMs / 1000}s`)), idleMs);
        });
        try {
          const r = await Promise.race([it.next(), idle]);
          if (r.done) ctl.close();
          else ctl.enqueue(r.value);
        } catch (e) {
          body.destroy?.();
          throw e;
        } finally {
          clearTimeout(timer);
        }
      },
      cancel() {
        body.destroy?.();
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
