import type { FailurePolicy, SharedFailures } from '../types.ts';
import type { RedisLink } from './link.ts';

/**
 * One failure on each key: a hash of failures (`f`) and the time until which tries are refused
 * (`u`, epoch ms), forgotten after a quiet `maxDelay` (the rules of src/auth/throttle.ts).
 * KEYS: the keys. ARGV: now, delay, maxDelay, then the attempts allowed per key.
 */
const fail = `
local now, delay, maxDelay = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i, k in ipairs(KEYS) do
  local f = redis.call('HINCRBY', k, 'f', 1)
  local u = tonumber(redis.call('HGET', k, 'u') or '0')
  local over = f - tonumber(ARGV[3 + i])
  if over >= 0 then
    u = now + math.min(delay * 2 ^ over, maxDelay)
    redis.call('HSET', k, 'u', u)
  end
  redis.call('PEXPIRE', k, math.max(u, now) - now + maxDelay)
end
`;

/** The latest time until which any of the keys is refused (0: none). KEYS: the keys. */
const until = `
local latest = 0
for _, k in ipairs(KEYS) do
  local u = tonumber(redis.call('HGET', k, 'u') or '0')
  if u > latest then latest = u end
end
return tostring(latest)
`;

type Scripted = {
  berthFail(...args: Array<string | number>): Promise<unknown>;
  berthUntil(...args: Array<string | number>): Promise<string>;
};

/** Failed logins counted in Redis, so a guesser spreading tries over the fleet meets one count. */
export class RedisFailures implements SharedFailures {
  readonly #link: RedisLink;
  readonly #policy: FailurePolicy;
  readonly #now: () => number;

  constructor(link: RedisLink, policy: FailurePolicy, now: () => number = Date.now) {
    this.#link = link;
    this.#policy = policy;
    this.#now = now;
  }

  static define(client: { defineCommand(name: string, def: { numberOfKeys?: number; lua: string }): void }): void {
    client.defineCommand('berthFail', { lua: fail });
    client.defineCommand('berthUntil', { lua: until });
  }

  async retryAfter(keys: readonly string[]): Promise<number> {
    const names = keys.map((k) => this.#key(k));
    const latest = Number(await this.#link.call('login-throttle', (c) => (c as unknown as Scripted).berthUntil(names.length, ...names)));
    const now = this.#now();
    return latest > now ? Math.ceil((latest - now) / 1000) : 0;
  }

  async fail(keys: readonly string[]): Promise<void> {
    const { delay, maxDelay, attempts } = this.#policy;
    const names = keys.map((k) => this.#key(k));
    await this.#link.call('login-throttle', (c) =>
      (c as unknown as Scripted).berthFail(names.length, ...names, this.#now(), delay, maxDelay, ...keys.map((k) => attempts(k))),
    );
  }

  async succeed(key: string): Promise<void> {
    await this.#link.call('login-throttle', (c) => c.del(this.#key(key)));
  }

  #key(key: string): string {
    return this.#link.key('login', key);
  }
}
