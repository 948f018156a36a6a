import type { Versions } from '../types.ts';
import type { RedisLink } from './link.ts';

/** A version no read has refreshed for this long is dropped (and made anew, once, by the next read). */
const versionSeconds = 24 * 3600;
/** A write not ended after this long is taken for dead (its replica crashed): readers then move on. */
const writeMs = 60_000;

/**
 * The version of a scope, unless a write to it is in flight (then nothing: no cached copy may be
 * trusted). A write in flight past its deadline died with its replica: it is dropped and the
 * version renewed, since its bytes may have landed after the last version was published. Missing
 * versions (never read, expired, Redis restarted empty) are made here from the caller's fresh token.
 * KEYS: epoch, version, writes. ARGV: fresh token, version lifetime (s).
 */
const current = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[3]) == 1 then
  if redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) > 0 then
    redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  end
  if redis.call('ZCARD', KEYS[3]) > 0 then return false end
end
local e = redis.call('GET', KEYS[1])
if not e then e = ARGV[1]; redis.call('SET', KEYS[1], e) end
local v = redis.call('GET', KEYS[2])
if not v then v = ARGV[1]; redis.call('SET', KEYS[2], v, 'EX', ARGV[2]) end
return e .. '/' .. v
`;

/** Records a write in flight on each scope. KEYS: writes per scope. ARGV: write id, deadline (ms from now). */
const begin = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, k in ipairs(KEYS) do
  redis.call('ZADD', k, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', k, ARGV[2])
end
`;

/** Ends a write: it leaves the scopes' writes, each scope gets a new version. KEYS: (writes, version) per scope. ARGV: write id, fresh token, version lifetime (s). */
const end = `
for i = 1, #KEYS, 2 do
  redis.call('ZREM', KEYS[i], ARGV[1])
  redis.call('SET', KEYS[i + 1], ARGV[2], 'EX', ARGV[3])
end
`;

type Scripted = {
  berthCurrent(epoch: string, version: string, writes: string, fresh: string, seconds: number): Promise<string | null>;
  berthBegin(...args: Array<string | number>): Promise<unknown>;
  berthEnd(...args: Array<string | number>): Promise<unknown>;
};

/**
 * Versions in Redis (see Versions): exact as long as every write is announced, which this keeps
 * true across outages. A read trusts a cached entry only after Redis said, in this read, that the
 * scope's version is the one the entry was read under; there is no message to miss, so a replica
 * that reconnects has nothing to catch up on. A write is announced before it starts and after it
 * ends. One whose announcement failed (Redis unreachable from this replica, while others still
 * reach it) leaves this replica owing the fleet a new epoch, which it publishes as soon as Redis
 * answers again: every replica's cache then starts over. An empty Redis (restarted without
 * persistence) holds no version any entry was read under, so nothing old is trusted either.
 */
export class RedisVersions implements Versions {
  readonly #link: RedisLink;
  readonly #epoch: string;
  /** A write could not be announced: the epoch must change once Redis answers. */
  #owed = false;

  constructor(link: RedisLink) {
    this.#link = link;
    this.#epoch = link.key('epoch');
    link.onReconnect(() => void this.#settle());
  }

  /** Defines the scripts on the client once it exists. */
  static define(client: { defineCommand(name: string, def: { numberOfKeys?: number; lua: string }): void }): void {
    client.defineCommand('berthCurrent', { numberOfKeys: 3, lua: current });
    client.defineCommand('berthBegin', { lua: begin });
    client.defineCommand('berthEnd', { lua: end });
  }

  async current(scope: string): Promise<string | undefined> {
    if (this.#owed || !this.#link.up) return undefined;
    try {
      const v = await this.#link.call('version', (c) =>
        (c as unknown as Scripted).berthCurrent(this.#epoch, this.#version(scope), this.#writes(scope), this.#link.token(), versionSeconds),
      );
      return v ?? undefined;
    } catch {
      return undefined;
    }
  }

  async writing<T>(scopes: readonly string[], write: () => Promise<T>): Promise<T> {
    const id = this.#link.token();
    const writes = scopes.map((s) => this.#writes(s));
    await this.#announce('write-begin', (c) => c.berthBegin(writes.length, ...writes, id, writeMs));
    try {
      return await write();
    } finally {
      const keys = scopes.flatMap((s) => [this.#writes(s), this.#version(s)]);
      await this.#announce('write-end', (c) => c.berthEnd(keys.length, ...keys, id, this.#link.token(), versionSeconds));
    }
  }

  async #announce(operation: string, call: (c: Scripted) => Promise<unknown>): Promise<void> {
    try {
      await this.#link.call(operation, (c) => call(c as unknown as Scripted));
    } catch {
      this.#owed = true;
      if (this.#link.up) await this.#settle();
    }
  }

  /** Publishes the new epoch this replica owes, if it owes one. */
  async #settle(): Promise<void> {
    if (!this.#owed) return;
    try {
      await this.#link.call('epoch', (c) => c.set(this.#epoch, this.#link.token()));
      this.#owed = false;
    } catch {
      // Still owed; the next reconnection or announcement tries again.
    }
  }

  /** `*` is every scope: its version is the epoch itself. */
  #version(scope: string): string {
    return scope === '*' ? this.#epoch : this.#link.key('v', scope);
  }

  #writes(scope: string): string {
    return this.#link.key('w', scope);
  }
}
