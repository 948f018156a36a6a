import { z } from 'zod';

const units: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };

/** Bytes in a size such as `4MiB`, `512KiB`, `10GB` or `4194304`. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  return Math.round(Number(m?.[1]) * (units[(m?.[2] ?? '').toLowerCase()] ?? 1));
}

/** The way a person writes it: `64MiB`, `1GiB`, `1536KiB`; a count that no binary unit divides stays a number. */
export function formatSize(bytes: number): string | number {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes > 0 && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return bytes;
}

/** Sizes as bytes or with a unit: 4194304, "4MiB", "512KiB". One syntax for every size setting. */
export const size = z
  .union(
    [
      z.number().int().nonnegative(),
      z
        .string()
        .regex(/^\d+(?:\.\d+)?\s*(?:B|KiB|MiB|GiB|KB|MB|GB)?$/i, 'must be a byte count like 4194304 or "4MiB"')
        .transform(parseSize),
    ],
    // Without it a value neither branch takes reads only "Invalid input".
    { error: 'must be a byte count like 4194304 or "4MiB"' },
  )
  .meta({ kind: 'size' });
