import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions as ClientOptions } from 'ioredis';
import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { RedisOptions } from '../schema.ts';

/** A coordinator call not made, or failed: the caller goes on without the coordinator. */
export class CoordinationUnavailable extends Error {
  readonly code = 'COORDINATION_UNAVAILABLE';
}

/** After a command timed out, the coordinator is left alone this long: a stalled Redis must not add its timeout to every request. */
const pauseAfterTimeout = 1_000;

/** Reconnection delays: quick at first, then every 2 s for as long as it takes. */
const retryDelay = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);

/**
 * The connection to Redis every coordinator part shares: ioredis, loaded only when
 * `coordination.redis` is configured. Commands fail at once while Redis is unreachable (nothing
 * queues behind a dead connection), and the link reconnects by itself forever. It says when it
 * goes down and comes back, in the log and in `berth_coordination_up`.
 */
export class RedisLink {
  readonly prefix: string;
  /** Unique to this process, so tokens it makes never equal another's. */
  readonly id = randomBytes(9).toString('base64url');
  readonly #opts: RedisOptions;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #reconnected = new Set<() => void>();
  #client: Redis | undefined;
  #subscriber: Redis | undefined;
  #wasUp = false;
  #downSince: number | undefined = Date.now();
  #pausedUntil = 0;
  #counter = 0;
  #closed = false;

  constructor(opts: RedisOptions, logger: Logger, metrics: Metrics) {
    this.#opts = opts;
    this.prefix = opts.prefix;
    this.#logger = logger;
    this.#metrics = metrics;
    metrics.coordinationUp.set(0);
  }

  /**
   * Loads the client and starts connecting, with `scripts` defined on it; resolves once the first
   * attempt ended, whatever its outcome.
   */
  async start(scripts: Array<(client: Redis) => void>): Promise<void> {
    const { Redis } = await import('ioredis');
    if (this.#closed) return;
    const client = new Redis(this.#opts.url, this.#clientOptions());
    for (const define of scripts) define(client);
    this.#client = client;
    client.on('ready', () => this.#ready());
    client.on('close', () => this.#lost());
    client.on('error', (e: Error) => this.#failed(e));
    await new Promise<void>((resolve) => {
      const done = (): void => {
        client.off('ready', done);
        client.off('error', done);
        resolve();
      };
      client.once('ready', done);
      client.once('error', done);
    });
  }

  #clientOptions(): ClientOptions {
    const o = this.#opts;
    return {
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: o.password }),
      ...(new URL(o.url).protocol === 'rediss:' ? { tls: {} } : {}),
      connectTimeout: Math.max(1_000, o.timeout * 4),
      commandTimeout: o.timeout,
      // Nothing waits for a connection that is not there: the caller goes to storage instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: retryDelay,
      enableAutoPipelining: true,
      lazyConnect: false,
    };
  }

  /** Whether a command may be sent now. */
  get up(): boolean {
    return this.#client?.status === 'ready' && Date.now() >= this.#pausedUntil;
  }

  /** A key under the prefix. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** A value no process ever made before (versions, lock owners). */
  token(): string {
    return `${this.id}.${(++this.#counter).toString(36)}`;
  }

  /**
   * Runs one call on the client; when Redis cannot be asked, or the call fails, rejects with
   * CoordinationUnavailable (counted under `operation`).
   */
  async call<T>(operation: string, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.#client;
    if (!client || !this.up) {
      this.#metrics.coordinationErrors.inc({ operation });
      throw new CoordinationUnavailable('coordination is unavailable');
    }
    try {
      return await fn(client);
    } catch (e) {
      this.#metrics.coordinationErrors.inc({ operation });
      if (e instanceof Error && /timed out/i.test(e.message)) {
        this.#pausedUntil = Date.now() + pauseAfterTimeout;
        this.#logger.warn('coordination: Redis did not answer in time; going on from storage', { operation, timeout: this.#opts.timeout });
      }
      throw new CoordinationUnavailable(`coordination failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** A second connection in subscriber mode (pub/sub), made on first use. */
  subscriber(): Redis | undefined {
    if (!this.#client || this.#closed) return undefined;
    if (!this.#subscriber) {
      this.#subscriber = this.#client.duplicate({ enableOfflineQueue: true });
      this.#subscriber.on('error', () => undefined);
    }
    return this.#subscriber;
  }

  /** Calls `listener` each time the connection comes back after it was lost. */
  onReconnect(listener: () => void): void {
    this.#reconnected.add(listener);
  }

  #ready(): void {
    this.#metrics.coordinationUp.set(1);
    const outage = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
    this.#downSince = undefined;
    this.#pausedUntil = 0;
    if (this.#wasUp) {
      this.#logger.info('coordination restored: Redis reachable again', { downMs: outage });
      for (const listener of this.#reconnected) listener();
    } else {
      this.#logger.info('coordination: connected to Redis', { prefix: this.prefix });
    }
    this.#wasUp = true;
  }

  #lost(): void {
    this.#metrics.coordinationUp.set(0);
    if (this.#downSince !== undefined || this.#closed) return;
    this.#downSince = Date.now();
    this.#logger.warn('coordination unavailable: Redis unreachable; serving from storage alone until it is back');
  }

  #failed(e: Error): void {
    // ioredis reports every failed reconnection: one line per outage is enough.
    if (this.#downSince === undefined || !this.#wasUp) {
      this.#logger.warn('coordination: cannot reach Redis', { error: e.message });
    }
    this.#lost();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const clients = [this.#client, this.#subscriber].filter((c): c is Redis => c !== undefined);
    this.#client = undefined;
    this.#subscriber = undefined;
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
