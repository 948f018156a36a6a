import type { Redis } from 'ioredis';
import type { SingleFlight, Turn } from '../types.ts';
import type { RedisLink } from './link.ts';

/** A turn's lease: renewed every third of it while the turn runs, so a replica that dies frees its keys this soon. */
const leaseMs = 15_000;
/** Waiters also look at the lock this often, in case the message that a turn ended was missed. */
const pollMs = 250;

/** Deletes the lock if it is still this turn's, and says so to the waiters. KEYS: lock. ARGV: owner, channel, key. */
const release = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
`;

/** Extends the lock if it is still this turn's. KEYS: lock. ARGV: owner, lease (ms). */
const renew = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

type Scripted = {
  berthRelease(lock: string, owner: string, channel: string, key: string): Promise<unknown>;
  berthRenew(lock: string, owner: string, lease: number): Promise<number>;
};

const ownTurn: Turn = { release: () => Promise.resolve() };

/**
 * Fleet-wide single-flight on Redis: a lock per key (`SET NX` with a lease its holder renews),
 * a message on one channel when a turn ends, and a poll of the lock for whatever that message
 * missed (a reconnection, a holder that died: its lease runs out). When Redis cannot be asked,
 * every replica takes its own turn: the work is done more than once, never not at all.
 */
export class RedisFlights implements SingleFlight {
  readonly #link: RedisLink;
  readonly #channel: string;
  /** Waiters on this replica, by lock key. */
  readonly #waiting = new Map<string, Set<() => void>>();
  #subscribed: Promise<void> | undefined;

  constructor(link: RedisLink) {
    this.#link = link;
    this.#channel = link.key('flights');
  }

  static define(client: { defineCommand(name: string, def: { numberOfKeys?: number; lua: string }): void }): void {
    client.defineCommand('berthRelease', { numberOfKeys: 1, lua: release });
    client.defineCommand('berthRenew', { numberOfKeys: 1, lua: renew });
  }

  async acquire(key: string): Promise<Turn | 'waited'> {
    const lock = this.#link.key('lock', key);
    const owner = this.#link.token();
    let taken: string | null;
    try {
      taken = await this.#link.call('flight', (c) => c.set(lock, owner, 'PX', leaseMs, 'NX'));
    } catch {
      return ownTurn;
    }
    if (taken === 'OK') return this.#turn(lock, owner, key);
    await this.#wait(lock);
    return 'waited';
  }

  #turn(lock: string, owner: string, key: string): Turn {
    const timer = setInterval(() => {
      this.#link.call('flight-renew', (c) => (c as unknown as Scripted).berthRenew(lock, owner, leaseMs)).catch(() => undefined);
    }, leaseMs / 3);
    // A turn must not keep the process alive by itself.
    (timer as { unref?: () => void }).unref?.();
    let released: Promise<void> | undefined;
    return {
      release: () => {
        released ??= (async () => {
          clearInterval(timer);
          await this.#link.call('flight-release', (c) => (c as unknown as Scripted).berthRelease(lock, owner, this.#channel, lock)).catch(() => undefined);
        })();
        return released;
      },
    };
  }

  /** Resolves once the lock is gone (released, expired) or Redis cannot tell any more. */
  async #wait(lock: string): Promise<void> {
    await this.#subscribe();
    await new Promise<void>((resolve) => {
      let waiters = this.#waiting.get(lock);
      if (!waiters) this.#waiting.set(lock, (waiters = new Set()));
      const done = (): void => {
        clearInterval(poll);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiting.get(lock) === waiters) this.#waiting.delete(lock);
        resolve();
      };
      waiters.add(done);
      const poll = setInterval(() => {
        this.#link.call('flight-wait', (c) => c.exists(lock)).then(
          (n) => n === 0 && done(),
          () => done(),
        );
      }, pollMs);
    });
  }

  /** Listens for turns that end, once per process (ioredis subscribes again after a reconnection). */
  #subscribe(): Promise<void> {
    this.#subscribed ??= (async () => {
      const sub: Redis | undefined = this.#link.subscriber();
      if (!sub) return;
      sub.on('message', (_channel: string, lock: string) => {
        for (const wake of [...(this.#waiting.get(lock) ?? [])]) wake();
      });
      await sub.subscribe(this.#channel).catch(() => {
        this.#subscribed = undefined;
      });
    })();
    return this.#subscribed;
  }
}
