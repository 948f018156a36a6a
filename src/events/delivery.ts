/**
 * One webhook's bounded queue and its one sender. Events go out one at a time in the order they
 * were raised; a failed delivery (network error, timeout, 408, 429, 5xx) is retried after a wait
 * that doubles up to a ceiling, holding the events behind it, so a receiver sees them in order.
 * The queue never holds more than `queueSize` events: past that, new events are dropped and
 * counted, which is what keeps memory flat while an endpoint is down.
 */
import type { Logger } from '../observability/log.ts';
import { contentType, signature, signatureHeader, type CloudEvent } from './cloudevent.ts';
import type { WebhookOptions } from './schema.ts';

/** What the sender reports, for metrics. */
export interface DeliveryObserver {
  queued(webhook: string, length: number): void;
  dropped(webhook: string): void;
  /** An attempt that failed (to be retried, or the last). */
  attemptFailed(webhook: string, reason: string): void;
  /** Given up on: a final answer, or out of retries. */
  failed(webhook: string): void;
  /** Delivered, `seconds` after the event was raised. */
  delivered(webhook: string, seconds: number): void;
}

interface Queued {
  event: CloudEvent;
  body: string;
  raisedAt: number;
}

/** Why an attempt failed, and whether another could succeed. */
interface Failure {
  reason: string;
  retry: boolean;
}

/** The URL as logs may show it: no user information, no query (where tokens sit). Not otlp.ts's: that module loads only with tracing. */
const redact = (url: string): string => {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
};

const retriedStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

export class WebhookQueue {
  readonly #options: WebhookOptions;
  readonly #observe: DeliveryObserver;
  readonly #logger: Logger;
  readonly #queue: Queued[] = [];
  /** Index of the head in `#queue`: shifting a long array on every delivery would be quadratic. */
  #head = 0;
  #running = false;
  #closed = false;
  /** Ends the backoff wait or the attempt in flight when the queue closes. */
  readonly #stop = new AbortController();
  #idle: Promise<void> = Promise.resolve();
  /** Whether the last event offered was dropped: the full queue is logged once per spell. */
  #overflowing = false;

  constructor(options: WebhookOptions, observe: DeliveryObserver, logger: Logger) {
    this.#options = options;
    this.#observe = observe;
    this.#logger = logger;
  }

  get name(): string {
    return this.#options.name;
  }

  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues an event, or drops it (counted) when the queue is full or closed. */
  offer(event: CloudEvent): void {
    if (this.#closed || this.length >= this.#options.queueSize) {
      this.#observe.dropped(this.name);
      if (!this.#overflowing && !this.#closed) this.#logger.warn('webhook queue full: dropping events', { webhook: this.name, queueSize: this.#options.queueSize });
      this.#overflowing = true;
      return;
    }
    this.#overflowing = false;
    this.#queue.push({ event, body: JSON.stringify(event), raisedAt: Date.now() });
    this.#observe.queued(this.name, this.length);
    if (!this.#running) {
      this.#running = true;
      this.#idle = this.#run();
    }
  }

  /** Stops sending: the attempt in flight is cut, what is still queued is dropped (and counted). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    await this.#idle;
    const left = this.length;
    for (let i = 0; i < left; i++) this.#observe.dropped(this.name);
    if (left > 0) this.#logger.warn('webhook events not delivered before stopping', { webhook: this.name, events: left });
    this.#queue.length = 0;
    this.#head = 0;
    this.#observe.queued(this.name, 0);
  }

  async #run(): Promise<void> {
    try {
      while (!this.#closed && this.length > 0) {
        const item = this.#queue[this.#head] as Queued;
        await this.#deliver(item);
        this.#queue[this.#head] = undefined as unknown as Queued;
        this.#head++;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        this.#observe.queued(this.name, this.length);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Sends one event until it is delivered, refused for good, out of retries, or the queue closes. */
  async #deliver(item: Queued): Promise<void> {
    const { retries, backoff, maxBackoff } = this.#options;
    for (let attempt = 0; ; attempt++) {
      const failure = await this.#attempt(item.body);
      if (!failure) {
        this.#observe.delivered(this.name, (Date.now() - item.raisedAt) / 1000);
        return;
      }
      if (this.#closed) return;
      this.#observe.attemptFailed(this.name, failure.reason);
      const log = { webhook: this.name, url: redact(this.#options.url), id: item.event.id, type: item.event.type, attempt: attempt + 1, reason: failure.reason };
      if (!failure.retry || attempt >= retries) {
        this.#observe.failed(this.name);
        this.#logger.warn('webhook delivery failed: event dropped', log);
        return;
      }
      this.#logger.debug('webhook delivery failed: retrying', log);
      await this.#wait(Math.min(maxBackoff, backoff * 2 ** attempt));
      if (this.#closed) return;
    }
  }

  async #attempt(body: string): Promise<Failure | undefined> {
    const { url, secret, headers, timeout } = this.#options;
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeout)]);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': contentType, ...(secret === undefined ? {} : { [signatureHeader]: signature(secret, body) }) },
        body,
        signal,
        redirect: 'manual',
      });
      // Read (and forget) the answer so the connection is reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return undefined;
      return { reason: `status ${res.status}`, retry: retriedStatus(res.status) };
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === 'TimeoutError' || (e.name === 'AbortError' && !this.#stop.signal.aborted));
      return { reason: timedOut ? 'timeout' : 'unreachable', retry: true };
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const onStop = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#stop.signal.removeEventListener('abort', onStop);
        resolve();
      }, ms);
      this.#stop.signal.addEventListener('abort', onStop, { once: true });
    });
  }
}
