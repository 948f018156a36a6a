/**
 * The parts that keep the mirror from storming its upstreams, each on its own: the circuit
 * breaker's states, rate-limit headers read as a hold, the connection slots and the bandwidth
 * bucket, and the "not found" cache.
 */
import { describe, expect, it } from 'vitest';
import { Breaker, refused, type CircuitState, type Ticket } from '../../src/mirror/breaker.ts';
import { Bandwidth, Slots } from '../../src/mirror/limits.ts';
import { NotFoundCache } from '../../src/mirror/negative.ts';
import { rateLimitHold, retryAfterMs } from '../../src/mirror/ratelimit.ts';

function clockedBreaker(failures = 3, coolDownMs = 1000) {
  let now = 0;
  const changes: Array<[CircuitState, CircuitState]> = [];
  const breaker = new Breaker({ failures, coolDownMs, probeTimeoutMs: 5000, now: () => now, onChange: (c) => changes.push([c.from, c.to]) });
  const ticket = (): Ticket => {
    const t = breaker.admit();
    if (refused(t)) throw new Error(`refused for ${t.retryAfterMs} ms`);
    return t;
  };
  return { breaker, changes, ticket, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after the configured failures in a row, not before, and a success in between starts the count again', () => {
    const { breaker, changes, ticket } = clockedBreaker(3);
    breaker.failed(ticket());
    breaker.failed(ticket());
    breaker.succeeded(ticket());
    breaker.failed(ticket());
    breaker.failed(ticket());
    expect(breaker.state).toBe('closed');
    breaker.failed(ticket());
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([['closed', 'open']]);
    const refusal = breaker.admit();
    expect(refused(refusal) && refusal).toMatchObject({ failures: 3, retryAfterMs: 1000 });
  });

  it('lets one probe through after the cool-down, refuses the rest meanwhile, and closes on its success', () => {
    const { breaker, changes, ticket, advance } = clockedBreaker(1, 1000);
    breaker.failed(ticket());
    advance(999);
    expect(refused(breaker.admit())).toBe(true);
    advance(1);
    const probe = ticket();
    expect(probe.probe).toBe(true);
    expect(breaker.state).toBe('half-open');
    const other = breaker.admit();
    expect(refused(other) && other.retryAfterMs).toBe(0);
    breaker.succeeded(probe);
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual([['closed', 'open'], ['open', 'half-open'], ['half-open', 'closed']]);
  });

  it('opens again for another cool-down when the probe fails', () => {
    const { breaker, ticket, advance } = clockedBreaker(1, 1000);
    breaker.failed(ticket());
    advance(1000);
    breaker.failed(ticket());
    expect(breaker.state).toBe('open');
    advance(500);
    expect(refused(breaker.admit())).toBe(true);
    advance(500);
    expect(ticket().probe).toBe(true);
  });

  it('ignores reports of requests admitted before the state changed', () => {
    const { breaker, ticket, advance } = clockedBreaker(1, 1000);
    const slow = ticket();
    breaker.failed(ticket());
    // A request that started while closed and succeeds now says nothing of the upstream since.
    breaker.succeeded(slow);
    expect(breaker.state).toBe('open');
    advance(1000);
    const probe = ticket();
    breaker.failed(slow);
    expect(breaker.state).toBe('half-open');
    breaker.succeeded(probe);
    expect(breaker.state).toBe('closed');
  });

  it('hands the probe to another request when the first probe is never reported', () => {
    const { breaker, ticket, advance } = clockedBreaker(1, 1000);
    breaker.failed(ticket());
    advance(1000);
    const lost = ticket();
    advance(4999);
    expect(refused(breaker.admit())).toBe(true);
    advance(1);
    const again = ticket();
    expect(again.probe).toBe(true);
    breaker.succeeded(lost);
    expect(breaker.state).toBe('half-open');
    breaker.succeeded(again);
    expect(breaker.state).toBe('closed');
  });

  it('never opens with failures: 0', () => {
    const { breaker, ticket } = clockedBreaker(0);
    for (let i = 0; i < 100; i++) breaker.failed(ticket());
    expect(breaker.state).toBe('closed');
  });
});

describe('rate-limit headers', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it("reads Docker Hub's ratelimit-remaining: 0;w=21600 as a hold for the window, on any status", () => {
    expect(rateLimitHold(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }, now)).toBe(21_600_000);
    expect(rateLimitHold(429, { 'ratelimit-remaining': '0;w=21600' }, now)).toBe(21_600_000);
    expect(rateLimitHold(200, { 'ratelimit-remaining': '0' }, now)).toBe(60_000);
  });

  it('goes on while quota remains, and passes a bare 429 on without a hold', () => {
    expect(rateLimitHold(200, { 'ratelimit-remaining': '76;w=21600' }, now)).toBeUndefined();
    expect(rateLimitHold(200, {}, now)).toBeUndefined();
    expect(rateLimitHold(429, {}, now)).toBeUndefined();
    expect(rateLimitHold(503, { 'retry-after': '30' }, now)).toBeUndefined();
  });

  it('takes Retry-After (seconds or a date), RateLimit-Reset (delta or Unix time) and the draft RateLimit header', () => {
    expect(rateLimitHold(429, { 'retry-after': '120' }, now)).toBe(120_000);
    expect(rateLimitHold(429, { 'retry-after': 'Thu, 01 Jan 2026 00:05:00 GMT' }, now)).toBe(300_000);
    expect(rateLimitHold(200, { 'ratelimit-remaining': '0', 'ratelimit-reset': '45' }, now)).toBe(45_000);
    expect(rateLimitHold(200, { 'ratelimit-remaining': '0', 'ratelimit-reset': String(now / 1000 + 90) }, now)).toBe(90_000);
    expect(rateLimitHold(200, { ratelimit: '"default";r=0;t=30' }, now)).toBe(30_000);
    expect(rateLimitHold(200, { ratelimit: '"default";r=5;t=30' }, now)).toBeUndefined();
    // Retry-After wins over the window: it is the more exact answer.
    expect(rateLimitHold(429, { 'ratelimit-remaining': '0;w=21600', 'retry-after': '10' }, now)).toBe(10_000);
  });

  it('holds a day at most, and ignores what it cannot read', () => {
    expect(rateLimitHold(429, { 'retry-after': String(10 * 86_400) }, now)).toBe(86_400_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(rateLimitHold(200, { 'ratelimit-remaining': 'none' }, now)).toBeUndefined();
  });
});

describe('connection slots', () => {
  it('lets max holders in, queues the rest in order, and counts both', async () => {
    const seen: Array<{ active: number; queued: number }> = [];
    const slots = new Slots(2, (s) => seen.push(s));
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const c = slots.acquire().then((r) => (order.push('c'), r));
    const d = slots.acquire().then((r) => (order.push('d'), r));
    await Promise.resolve();
    expect({ active: slots.active, queued: slots.queued }).toEqual({ active: 2, queued: 2 });
    a();
    a(); // a second release of the same slot frees nothing more
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect({ active: slots.active, queued: slots.queued }).toEqual({ active: 2, queued: 1 });
    b();
    (await d)();
    releaseC();
    expect({ active: slots.active, queued: slots.queued }).toEqual({ active: 0, queued: 0 });
    expect(Math.max(...seen.map((s) => s.active))).toBe(2);
  });

  it('has no limit at 0', async () => {
    const slots = new Slots(0);
    await Promise.all(Array.from({ length: 50 }, () => slots.acquire()));
    expect(slots.active).toBe(50);
    expect(slots.queued).toBe(0);
  });
});

/** Whether `p` has settled once the microtasks queued now have run (no timer fired). */
async function settledAtOnce(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe('bandwidth bucket', () => {
  it('lets the burst through at once and makes readers wait, together, for what they take beyond it', async () => {
    let now = 0;
    const bucket = new Bandwidth(1000, () => now);
    // The burst (a quarter second's worth) goes without waiting.
    expect(await settledAtOnce(bucket.take(250))).toBe(true);
    // Two readers taking 50 bytes each at 1000 B/s: 100 ms of debt between them, the second waits for all of it.
    const first = bucket.take(50);
    const second = bucket.take(50);
    expect(await settledAtOnce(first)).toBe(false);
    const started = performance.now();
    await Promise.all([first, second]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    // Time refills it: a second later (on its clock) a quarter second's worth goes at once again.
    now += 1000;
    expect(await settledAtOnce(bucket.take(250))).toBe(true);
  });
});

describe('not-found cache', () => {
  it('remembers 404, 401 and 403 of manifests and blobs per repository, path and Accept, for its TTL', async () => {
    const cache = new NotFoundCache(100);
    cache.note('library/alpine', 'manifests/nope', 'a', 404);
    cache.note('library/alpine', 'blobs/sha256:00', undefined, 401);
    cache.note('library/alpine', 'manifests/ok', 'a', 200);
    cache.note('library/alpine', 'manifests/busy', 'a', 503);
    cache.note('library/alpine', 'tags/list?n=1', undefined, 404);
    expect(cache.get('library/alpine', 'manifests/nope', 'a')).toBe(404);
    expect(cache.get('library/alpine', 'manifests/nope', 'b')).toBeUndefined();
    expect(cache.get('library/other', 'manifests/nope', 'a')).toBeUndefined();
    expect(cache.get('library/alpine', 'blobs/sha256:00', undefined)).toBe(401);
    expect(cache.get('library/alpine', 'manifests/ok', 'a')).toBeUndefined();
    expect(cache.get('library/alpine', 'manifests/busy', 'a')).toBeUndefined();
    expect(cache.get('library/alpine', 'tags/list?n=1', undefined)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(cache.get('library/alpine', 'manifests/nope', 'a')).toBeUndefined();
  });

  it('remembers nothing with a TTL of 0', () => {
    const cache = new NotFoundCache(0);
    cache.note('r', 'manifests/nope', undefined, 404);
    expect(cache.get('r', 'manifests/nope', undefined)).toBeUndefined();
  });
});
