/**
 * A circuit breaker for one upstream URL. Closed, requests go; after `failures` failures in a row
 * (no connection, a timeout, a 5xx) it opens, and for `coolDownMs` nothing is sent: callers answer
 * at once (stale, or 503) instead of each waiting for the timeouts. After the cool-down one request
 * goes as a probe (half-open) while the others are still refused; its success closes the circuit,
 * its failure opens it for another cool-down.
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Failures in a row that open the circuit; 0 never opens it. */
  failures: number;
  coolDownMs: number;
  /**
   * A probe not reported after this long is given up and the next request probes instead, so a
   * lost report cannot leave the circuit half-open for good. Requests are bounded by the upstream
   * timeouts; this is somewhat longer.
   */
  probeTimeoutMs: number;
  /** Told of every change of state, with the failure that opened it. */
  onChange?: (change: { from: CircuitState; to: CircuitState; failures: number; error?: unknown }) => void;
  now?: () => number;
}

/**
 * A request let through, to be reported once it is known how it went. Reports from a request
 * admitted before the state last changed are ignored: a slow request that started while the
 * circuit was closed proves nothing about the upstream after it opened.
 */
export interface Ticket {
  readonly generation: number;
  readonly probe: boolean;
}

/** Why a request may not go now, and when it may. */
export interface Refused {
  failures: number;
  /** Until the cool-down ends; 0 while a probe is under way. */
  retryAfterMs: number;
}

export class Breaker {
  readonly #opts: BreakerOptions;
  readonly #now: () => number;
  #state: CircuitState = 'closed';
  /** Failures in a row while closed; the count that opened it while open. */
  #failures = 0;
  #openUntil = 0;
  #probeSince = 0;
  #generation = 0;

  constructor(opts: BreakerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** A ticket for a request that may go now, or why it may not. The first caller after the cool-down is the probe. */
  admit(): Ticket | Refused {
    if (this.#state === 'closed') return { generation: this.#generation, probe: false };
    const now = this.#now();
    const due = this.#state === 'open' ? now >= this.#openUntil : now - this.#probeSince >= this.#opts.probeTimeoutMs;
    if (due) {
      this.#probeSince = now;
      this.#move('half-open');
      return { generation: this.#generation, probe: true };
    }
    return { failures: this.#failures, retryAfterMs: Math.max(0, this.#openUntil - now) };
  }

  succeeded(ticket: Ticket): void {
    if (ticket.generation !== this.#generation) return;
    this.#failures = 0;
    if (this.#state === 'half-open') this.#move('closed');
  }

  failed(ticket: Ticket, error?: unknown): void {
    if (ticket.generation !== this.#generation || this.#opts.failures === 0) return;
    if (this.#state === 'half-open') {
      this.#openUntil = this.#now() + this.#opts.coolDownMs;
      this.#move('open', error);
      return;
    }
    this.#failures++;
    if (this.#failures >= this.#opts.failures) {
      this.#openUntil = this.#now() + this.#opts.coolDownMs;
      this.#move('open', error);
    }
  }

  #move(to: CircuitState, error?: unknown): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    if (from !== to) this.#opts.onChange?.({ from, to, failures: this.#failures, ...(error === undefined ? {} : { error }) });
  }
}

export const refused = (t: Ticket | Refused): t is Refused => 'retryAfterMs' in t;
