/**
 * What an upstream's answer says about its rate limit: how long to stop asking it. Docker Hub
 * sends `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 0;w=21600` (on HEADs too, which it
 * does not count), and 429 once the quota is gone; other registries send 429 with `Retry-After`,
 * or the IETF draft's `RateLimit-Remaining` / `RateLimit-Reset`, or its later `RateLimit: r=0;t=30`.
 */

/** When the quota is gone but nothing says for how long: a minute, then ask again. */
const unknownWindowMs = 60_000;
/** However long an upstream says, berth asks again after a day: a typo upstream must not stop it for good. */
const longestHoldMs = 24 * 3_600_000;

/** A delay in seconds or an HTTP date (RFC 9110 `Retry-After`), as milliseconds from `now`. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The leading number of a header such as `0;w=21600`, and its `w=` window in seconds. */
function quota(value: string | undefined): { remaining: number; windowS: number | undefined } | undefined {
  const m = value === undefined ? null : /^\s*(\d+)\s*(?:;(.*))?$/.exec(value);
  if (!m) return undefined;
  const w = /(?:^|;)\s*w\s*=\s*(\d+)/.exec(m[2] ?? '')?.[1];
  return { remaining: Number(m[1]), windowS: w === undefined ? undefined : Number(w) };
}

/** The draft's `RateLimit: "default";r=0;t=30` (remaining r, reset in t seconds). */
function structured(value: string | undefined): { remaining: number; resetS: number | undefined } | undefined {
  if (value === undefined) return undefined;
  const r = /(?:^|;)\s*r\s*=\s*(\d+)/.exec(value)?.[1];
  if (r === undefined) return undefined;
  const t = /(?:^|;)\s*t\s*=\s*(\d+)/.exec(value)?.[1];
  return { remaining: Number(r), resetS: t === undefined ? undefined : Number(t) };
}

/** `RateLimit-Reset` as seconds from now: a delta, or (GitHub's X-RateLimit-Reset style) a Unix time. */
function resetMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n > 1e9 ? Math.max(0, n * 1000 - now) : n * 1000;
}

/**
 * How long (ms) to stop asking the upstream after this answer, or undefined to go on: a 429 that
 * says for how long, or any answer saying no quota remains (the answer itself is still good).
 */
export function rateLimitHold(status: number, headers: Readonly<Record<string, string>>, now: number): number | undefined {
  const remaining = quota(headers['ratelimit-remaining']);
  const draft = structured(headers['ratelimit']);
  const exhausted = remaining?.remaining === 0 || draft?.remaining === 0;
  if (status !== 429 && !exhausted) return undefined;
  const told =
    retryAfterMs(headers['retry-after'], now) ??
    resetMs(headers['ratelimit-reset'], now) ??
    (draft?.resetS === undefined ? undefined : draft.resetS * 1000) ??
    (remaining?.windowS === undefined ? undefined : remaining.windowS * 1000);
  // A bare 429 says nothing of how long: it is passed on, and the next request asks again.
  if (told === undefined) return exhausted ? unknownWindowMs : undefined;
  return Math.min(told, longestHoldMs);
}
