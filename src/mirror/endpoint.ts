import { errorFields } from '../observability/log.ts';
import { tracing, within } from '../observability/otel/hooks.ts';
import { OciError } from '../oci/errors.ts';
import { Breaker, refused, type CircuitState, type Ticket } from './breaker.ts';
import type { UpstreamEvents } from './events.ts';
import { rateLimitHold } from './ratelimit.ts';
import { basicAuth, parseChallenge, TokenCache, TokenServiceError, type Credentials } from './token.ts';
import { discard, type Method, type Transport, type UpstreamResponse } from './transport.ts';

export interface UpstreamRequest {
  method: Method;
  /** The upstream repository the request is about; it names the token scope. */
  repository: string;
  /** Path under `/v2/<repository>/`, e.g. `manifests/latest`. */
  path: string;
  accept?: string;
}

/** Why a URL is not asked now, and for how long at least. */
export interface Refusal {
  reason: 'circuit_open' | 'rate_limited';
  retryAfterMs: number;
  /** Failures in a row that opened the circuit. */
  failures?: number;
}

export interface EndpointOptions {
  upstream: string;
  url: URL;
  /** Its position in the upstream's URLs, 1 first: what metrics call it. */
  position: number;
  credentials: Credentials | undefined;
  transport: Transport;
  breaker: { failures: number; coolDownMs: number; probeTimeoutMs: number };
  events: UpstreamEvents;
}

/**
 * The request did not get an answer worth the name: no connection, a timeout, a reset, a token
 * service that failed. A token service refusing our credentials (4xx) did answer.
 */
const failure = (e: unknown): boolean => !(e instanceof TokenServiceError && e.status < 500);

/**
 * One URL of an upstream: its tokens (a token is only ever sent to the origin whose token service
 * issued it), its circuit breaker, and its rate-limit hold. Only credentials from the
 * configuration ever go upstream; nothing of the client's request is forwarded but `Accept`.
 */
export class Endpoint {
  readonly url: URL;
  readonly #name: string;
  readonly #position: string;
  readonly #transport: Transport;
  readonly #credentials: Credentials | undefined;
  readonly #tokens: TokenCache;
  readonly #breaker: Breaker;
  readonly #events: UpstreamEvents;
  /** Set once the upstream asked for Basic auth, so later requests send it up front. */
  #basic = false;
  /** Not asked before this time (ms since the epoch) because it said its rate limit is reached. */
  #heldUntil = 0;
  #openedAt = 0;

  constructor(opts: EndpointOptions) {
    this.url = opts.url;
    this.#name = opts.upstream;
    this.#position = String(opts.position);
    this.#transport = opts.transport;
    this.#credentials = opts.credentials;
    this.#events = opts.events;
    this.#breaker = new Breaker({ ...opts.breaker, onChange: (c) => this.#circuit(c.from, c.to, c.failures, c.error) });
    this.#events.circuit?.({ upstream: this.#name, url: this.#position, from: 'closed', to: 'closed' });
    this.#tokens = new TokenCache(
      (url, headers) =>
        within(
          tracing?.start('upstream token', 'internal', { 'berth.upstream': this.#name }),
          async () => {
            const res = await this.#transport.send('GET', new URL(url), headers);
            return { status: res.status, text: res.body ? await new Response(res.body).text() : '' };
          },
          (r) => ({ 'http.response.status_code': r.status }),
        ),
      this.#credentials,
    );
  }

  /**
   * A ticket to ask this URL now, or why not: a rate-limit hold, or a circuit that is not closed.
   * The first caller after the cool-down starts the probe.
   */
  admit(): Ticket | Refusal {
    if (this.#heldUntil !== 0) {
      const left = this.#heldUntil - Date.now();
      if (left > 0) return { reason: 'rate_limited', retryAfterMs: left };
      this.#heldUntil = 0;
      this.#events.rateLimited?.({ upstream: this.#name, url: this.#position, until: 0 });
    }
    const ticket = this.#breaker.admit();
    if (refused(ticket)) return { reason: 'circuit_open', retryAfterMs: ticket.retryAfterMs, failures: ticket.failures };
    if (!ticket.probe) return ticket;
    // The probe is a request of berth's own, so that no client's request waits for an upstream
    // that may still be hanging: this one too is answered at once, like the others meanwhile.
    void this.#probe(ticket);
    return { reason: 'circuit_open', retryAfterMs: 0 };
  }

  /**
   * `GET /v2/` (free on Docker Hub's rate limit; a 401 is an answer too): any answer but a 5xx
   * closes the circuit, anything else opens it for another cool-down.
   */
  async #probe(ticket: Ticket): Promise<void> {
    const url = new URL(`${this.url.pathname.replace(/\/$/, '')}/v2/`, this.url);
    let res: UpstreamResponse;
    try {
      res = await this.#transport.send('GET', url, { 'User-Agent': 'berth-mirror' });
    } catch (e) {
      this.#events.requested?.({ upstream: this.#name, method: 'GET', status: 'error' });
      this.#breaker.failed(ticket, e);
      return;
    }
    this.#events.requested?.({ upstream: this.#name, method: 'GET', status: res.status });
    await discard(res.body);
    if (res.status >= 500) this.#breaker.failed(ticket, new Error(`answered ${res.status}`));
    else this.#breaker.succeeded(ticket);
    this.#rateLimit(res);
  }

  /**
   * Sends a request, answering a 401 challenge once (Bearer token or Basic) and following
   * redirects, and tells the breaker how it went. Network failures and timeouts become
   * UNAVAILABLE errors.
   */
  async fetch(req: UpstreamRequest, ticket: Ticket): Promise<UpstreamResponse> {
    let res: UpstreamResponse;
    try {
      res = await this.#exchange(req, ticket);
    } catch (e) {
      if (failure(e)) this.#breaker.failed(ticket, e);
      else this.#breaker.succeeded(ticket);
      throw e;
    }
    if (res.status >= 500) this.#breaker.failed(ticket, new Error(`answered ${res.status}`));
    else this.#breaker.succeeded(ticket);
    this.#rateLimit(res);
    return res;
  }

  async #exchange(req: UpstreamRequest, ticket: Ticket): Promise<UpstreamResponse> {
    const url = new URL(`${this.url.pathname.replace(/\/$/, '')}/v2/${req.repository}/${req.path}`, this.url);
    const scope = `repository:${req.repository}:pull`;
    const headers: Record<string, string> = { 'User-Agent': 'berth-mirror' };
    if (req.accept) headers.Accept = req.accept;
    const token = this.#tokens.cached(scope);
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.#basic && this.#credentials) headers.Authorization = basicAuth(this.#credentials);
    // A body that breaks off after a good start is a failure of the upstream too.
    const send = (h: Record<string, string>): Promise<UpstreamResponse> => this.#transport.send(req.method, url, h, (e) => this.#breaker.failed(ticket, e));

    const first = await send(headers);
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
          if (e instanceof OciError) throw e;
          throw new OciError('UNAVAILABLE', `upstream ${this.#name}: ${e instanceof Error ? e.message : String(e)}`, { detail: { upstream: this.#name }, cause: e });
        }
        tracing?.annotate('berth.upstream.retries', attempt + 1);
        const res = await send({ ...headers, Authorization: `Bearer ${fresh}` });
        if (res.status !== 401 || attempt > 0) return res;
        await discard(res.body);
      }
    }
    if (challenge?.scheme === 'basic' && this.#credentials) {
      this.#basic = true;
      tracing?.annotate('berth.upstream.retries', 1);
      return send({ ...headers, Authorization: basicAuth(this.#credentials) });
    }
    return { ...first, body: null };
  }

  /** An answer saying the quota is gone (Docker Hub's `ratelimit-remaining: 0`, a 429 with `Retry-After`) holds this URL. */
  #rateLimit(res: UpstreamResponse): void {
    const now = Date.now();
    const hold = rateLimitHold(res.status, res.headers, now);
    if (hold === undefined || hold <= 0) return;
    const until = now + hold;
    if (until <= this.#heldUntil) return;
    const fresh = this.#heldUntil === 0;
    this.#heldUntil = until;
    this.#events.rateLimited?.({ upstream: this.#name, url: this.#position, until });
    if (fresh) {
      this.#events.logger?.warn('upstream rate limit reached: not asking it until the window passes', {
        upstream: this.#name,
        url: this.url.href,
        status: res.status,
        holdSeconds: Math.ceil(hold / 1000),
        until: new Date(until).toISOString(),
      });
    }
  }

  #circuit(from: CircuitState, to: CircuitState, failures: number, error: unknown): void {
    this.#events.circuit?.({ upstream: this.#name, url: this.#position, from, to });
    // One line when it opens and one when it closes; a failed probe re-opening it is not news.
    if (from === 'closed' && to === 'open') {
      this.#openedAt = Date.now();
      this.#events.logger?.warn('upstream circuit opened: answering without asking it until a probe succeeds', {
        upstream: this.#name,
        url: this.url.href,
        failures,
        ...(error === undefined ? {} : errorFields(error)),
      });
    } else if (to === 'closed') {
      this.#events.logger?.info('upstream circuit closed: asking it again', { upstream: this.#name, url: this.url.href, openSeconds: Math.round((Date.now() - this.#openedAt) / 1000) });
    }
  }
}
