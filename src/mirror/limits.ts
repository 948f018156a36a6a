/** An upstream's caps: requests at once (`maxConnections`) and bytes per second (`maxBytesPerSecond`). */

/** Told how many requests hold a slot and how many wait for one, whenever that changes. */
export type SlotsObserver = (state: { active: number; queued: number }) => void;

/**
 * At most `max` holders at once (0: no limit), the rest served first come, first served. A holder
 * is one HTTP exchange, from sending it to the end of its body, never a whole conversation with
 * its token requests and redirects: those take slots of their own, so holders never wait for one
 * another.
 */
export class Slots {
  readonly #max: number;
  readonly #observe: SlotsObserver | undefined;
  readonly #queue: Array<() => void> = [];
  #active = 0;

  constructor(max: number, observe?: SlotsObserver) {
    this.#max = max;
    this.#observe = observe;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves once a slot is free, with the function that gives it back (only its first call counts). */
  async acquire(): Promise<() => void> {
    if (this.#max > 0 && this.#active >= this.#max) {
      await new Promise<void>((go) => {
        this.#queue.push(go);
        this.#changed();
      });
    } else {
      this.#active++;
      this.#changed();
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#queue.shift();
      // The slot passes straight to the next in line: `active` stays as it is.
      if (next) next();
      else this.#active--;
      this.#changed();
    };
  }

  #changed(): void {
    this.#observe?.({ active: this.#active, queued: this.#queue.length });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A token bucket of bytes shared by every body read from one upstream. A reader takes what it
 * just received and waits until the bucket has paid for it, so readers share the rate in
 * proportion to what they read, however many there are; the bucket holds a quarter second's
 * worth, the largest burst above the rate.
 */
export class Bandwidth {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(bytesPerSecond: number, now: () => number = () => performance.now()) {
    this.#rate = bytesPerSecond / 1000;
    this.#burst = Math.max(bytesPerSecond / 4, 1);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#at = now();
  }

  /** Takes `bytes` from the bucket; resolves when the rate allows them (at once while there is credit), with the milliseconds waited. */
  async take(bytes: number): Promise<number> {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
    this.#tokens -= bytes;
    // In debt: wait until the refill has paid for it. Every later reader sees the deeper debt and
    // waits longer, so the debt is what orders them. Under a millisecond is left to the next one.
    const wait = -this.#tokens / this.#rate;
    if (wait < 1) return 0;
    await sleep(wait);
    return wait;
  }
}
