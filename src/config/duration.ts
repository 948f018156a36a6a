import { z } from 'zod';

/**
 * A length of time in milliseconds. Branded, so a count of seconds (or any bare number) cannot be
 * passed where a duration is expected without saying so: `millis(n)`, `seconds(n)`.
 */
export type Duration = number & { readonly __unit: 'ms' };

export const millis = (n: number): Duration => n as Duration;
export const seconds = (n: number): Duration => (n * 1000) as Duration;
/** Whole seconds, for the places that speak them (JWT claims, `Retry-After`). */
export const toSeconds = (d: Duration): number => d / 1000;

const units = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof units;

/** A duration such as `90s`, `30m`, `24h`, `7d` or `500ms`; undefined when it is not one. */
export function parseDuration(text: string): Duration | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  return m ? millis(Math.round(Number(m[1]) * units[m[2] as Unit])) : undefined;
}

/**
 * The way a person writes it: the largest unit that divides it exactly (`90s`, `1500ms`, `7d`),
 * except that one day reads `24h`.
 */
export function formatDuration(d: Duration): string {
  if (d === 0) return '0s';
  for (const unit of Object.keys(units) as Unit[]) {
    if (d % units[unit] === 0 && !(unit === 'd' && d === units.d)) return `${d / units[unit]}${unit}`;
  }
  return `${d}ms`;
}

const message = 'must be seconds or a duration like "500ms", "30s", "5m", "24h" or "7d"';

/**
 * Every duration setting: a bare number is seconds (`300`), a string carries its unit (`"5m"`).
 * Read as milliseconds.
 */
export const duration = z
  .union(
    [
      z.number().nonnegative().transform(seconds),
      z
        .string()
        .refine((s) => parseDuration(s) !== undefined, message)
        .transform((s) => parseDuration(s) ?? millis(0)),
    ],
    { error: message },
  )
  .meta({ kind: 'duration' });
