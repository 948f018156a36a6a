import type { Duration } from '../config/duration.ts';
import { tracing, within } from '../observability/otel/hooks.ts';
import { OciError } from '../oci/errors.ts';
import { Endpoint, type Refusal, type UpstreamRequest } from './endpoint.ts';
import type { UpstreamEvents } from './events.ts';
import { NotFoundCache } from './negative.ts';
import { defaultPrefix, dockerHubAliases, isDockerHub, upstreamUrls, type MirrorOptions, type UpstreamOptions } from './schema.ts';
import { discard, Transport, type UpstreamResponse } from './transport.ts';

export { discard, unavailable, type UpstreamResponse } from './transport.ts';
export type { UpstreamRequest } from './endpoint.ts';
export type { UpstreamEvents } from './events.ts';

type Timeouts = MirrorOptions['timeouts'];

/** An answer that another URL may do better than: the upstream failing or rate limiting. */
const failing = (status: number): boolean => status >= 500 || status === 429;

/**
 * One upstream registry, reached through one or more URLs tried in order (a regional mirror, then
 * the origin): each request goes to the first URL whose circuit is closed and that is not rate
 * limited, and on to the next when that one fails. Remembers its "not found" answers for
 * `notFoundTtl`. Its caps (`maxConnections`, `maxBytesPerSecond`) cover all its URLs together.
 */
export class Upstream {
  readonly name: string;
  /** The URL tried first. */
  readonly url: URL;
  readonly urls: readonly URL[];
  readonly prefix: string;
  /** Names the upstream answers to in containerd's `?ns=`. */
  readonly aliases: ReadonlySet<string>;
  readonly libraryPrefix: boolean;
  readonly tagTtl: Duration;
  readonly #transport: Transport;
  readonly #endpoints: readonly Endpoint[];
  readonly #notFound: NotFoundCache;
  readonly #events: UpstreamEvents;

  constructor(opts: UpstreamOptions, timeouts: Timeouts, events: UpstreamEvents = {}) {
    this.name = opts.name;
    this.urls = upstreamUrls(opts).map((u) => new URL(u.replace(/\/+$/, '')));
    if (this.urls.length === 0) throw new Error(`upstream ${opts.name} has no URL`);
    this.url = this.urls[0]!;
    const dockerHub = this.urls.some(isDockerHub);
    this.prefix = opts.prefix ?? defaultPrefix(this.urls);
    this.aliases = new Set([opts.name, this.prefix, ...this.urls.flatMap((u) => [u.host, u.hostname]), ...(dockerHub ? dockerHubAliases : [])]);
    this.libraryPrefix = opts.libraryPrefix ?? dockerHub;
    this.tagTtl = opts.tagTtl;
    this.#events = events;
    this.#notFound = new NotFoundCache(opts.notFoundTtl);
    this.#transport = new Transport({
      upstream: opts.name,
      timeouts,
      maxConnections: opts.maxConnections,
      maxBytesPerSecond: opts.maxBytesPerSecond,
      onSlots: events.connections && ((s) => events.connections?.({ upstream: opts.name, ...s })),
      onReceived: events.received && ((bytes, throttledMs) => events.received?.({ upstream: opts.name, bytes, throttledMs })),
    });
    const credentials = opts.username !== undefined && opts.password !== undefined ? { username: opts.username, password: opts.password } : undefined;
    // A probe is a request like any other, bounded by the timeouts; past them it was lost.
    const probeTimeoutMs = timeouts.connect + timeouts.headers + 5_000;
    this.#endpoints = this.urls.map(
      (url, i) =>
        new Endpoint({
          upstream: opts.name,
          url,
          position: i + 1,
          credentials,
          transport: this.#transport,
          breaker: { failures: opts.breaker.failures, coolDownMs: opts.breaker.coolDown, probeTimeoutMs },
          events,
        }),
    );
  }

  /**
   * Sends a request to the first URL that may be asked, and on to the next while one fails; a
   * "not found" it remembers is answered without asking. When no URL may be asked now (open
   * circuits, rate-limit holds), fails at once: 429 TOOMANYREQUESTS when every URL is rate
   * limited, else 503 UNAVAILABLE, with `Retry-After`. Network failures and timeouts become
   * UNAVAILABLE errors.
   */
  async fetch(req: UpstreamRequest): Promise<UpstreamResponse> {
    const remembered = this.#notFound.get(req.repository, req.path, req.accept);
    if (remembered !== undefined) {
      this.#events.spared?.({ upstream: this.name, reason: 'not_found' });
      return { status: remembered, headers: {}, body: null };
    }
    const span = tracing?.start(`upstream ${req.method}`, 'internal', { 'berth.upstream': this.name, 'berth.upstream.repository': req.repository });
    const res = await within(span, () => this.#failover(req), (r) => ({ 'http.response.status_code': r.status }));
    this.#notFound.note(req.repository, req.path, req.accept, res.status);
    return res;
  }

  async #failover(req: UpstreamRequest): Promise<UpstreamResponse> {
    const refusals: Refusal[] = [];
    let answer: UpstreamResponse | undefined;
    let error: unknown;
    for (const [i, endpoint] of this.#endpoints.entries()) {
      const ticket = endpoint.admit();
      if ('reason' in ticket) {
        refusals.push(ticket);
        continue;
      }
      let res: UpstreamResponse;
      try {
        res = await endpoint.fetch(req, ticket);
        this.#events.requested?.({ upstream: this.name, method: req.method, status: res.status });
      } catch (e) {
        this.#events.requested?.({ upstream: this.name, method: req.method, status: 'error' });
        error ??= e;
        continue;
      }
      if (!failing(res.status) || i === this.#endpoints.length - 1) return res;
      // Another URL may do better; this answer is kept, without its body, in case none does.
      await discard(res.body);
      answer ??= { ...res, body: null };
    }
    if (answer) return answer;
    if (error !== undefined) throw error;
    const all = refusals.every((r) => r.reason === 'rate_limited');
    this.#events.spared?.({ upstream: this.name, reason: all ? 'rate_limited' : 'circuit_open' });
    throw this.#refused(refusals, all);
  }

  /** The error for a request no URL could be asked for: what the client can do, and when to try again. */
  #refused(refusals: readonly Refusal[], rateLimited: boolean): OciError {
    const waitMs = Math.min(...refusals.map((r) => r.retryAfterMs));
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    const detail = { upstream: this.name };
    const headers = { 'Retry-After': String(retryAfter) };
    if (rateLimited) return new OciError('TOOMANYREQUESTS', `upstream ${this.name} is rate limiting: not asked again for ${retryAfter}s`, { detail, headers });
    const failures = Math.max(0, ...refusals.map((r) => r.failures ?? 0));
    const next = waitMs > 0 ? `next try in ${retryAfter}s` : 'a probe is under way';
    return new OciError('UNAVAILABLE', `upstream ${this.name} is unavailable: it failed ${failures} times in a row; ${next}`, { detail, headers });
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }
}
