/**
 * Tags read as versions, for prefetch's `semver` and `newest`: `1`, `1.2`, `v1.2.3` (missing parts
 * are 0). Tags with anything else (`1.25-alpine`, `latest`) are not versions, as most registries'
 * release tags are plain numbers and the suffixed ones are variants, not pre-releases.
 */
export type Version = readonly [number, number, number];

export function parseVersion(tag: string): Version | undefined {
  const m = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?$/.exec(tag);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

export const compareVersions = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

type Test = (v: Version) => boolean;

/** The parts given of `1`, `1.2`, `1.2.3`, `1.x`, `1.2.*` (an `x` or `*` ends them). */
function partial(text: string): number[] | undefined {
  const m = /^v?(\d{1,9}|[xX*])(?:\.(\d{1,9}|[xX*]))?(?:\.(\d{1,9}|[xX*]))?$/.exec(text);
  if (!m) return undefined;
  const parts: number[] = [];
  for (const p of [m[1], m[2], m[3]]) {
    if (p === undefined || !/^\d+$/.test(p)) break;
    parts.push(Number(p));
  }
  return parts;
}

const full = (parts: number[]): Version => [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];

/** The first version past everything `parts` covers: `1.2` → 1.3.0, `1` → 2.0.0. */
function after(parts: number[]): Version {
  const v = [...full(parts)] as [number, number, number];
  const at = parts.length - 1;
  v[at]!++;
  for (let i = at + 1; i < 3; i++) v[i] = 0;
  return v;
}

function comparator(text: string): Test | undefined {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(text);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const parts = partial(m[2]!);
  if (!parts) return undefined;
  if (parts.length === 0) return () => true;
  const low = full(parts);
  const cmp = (v: Version, w: Version): number => compareVersions(v, w);
  switch (op) {
    case '>=':
      return (v) => cmp(v, low) >= 0;
    case '>':
      return (v) => cmp(v, after(parts)) >= 0;
    case '<':
      return (v) => cmp(v, low) < 0;
    case '<=':
      return (v) => cmp(v, after(parts)) < 0;
    case '^': {
      // Up to the next change of the first non-zero part given (npm's caret).
      const lead = parts.findIndex((p, i) => p !== 0 || i === parts.length - 1);
      const high = after(parts.slice(0, lead + 1));
      return (v) => cmp(v, low) >= 0 && cmp(v, high) < 0;
    }
    case '~': {
      const high = after(parts.slice(0, Math.min(2, parts.length)));
      return (v) => cmp(v, low) >= 0 && cmp(v, high) < 0;
    }
    default: {
      // `1.2` or `1.2.x`: everything it covers.
      const high = after(parts);
      return (v) => cmp(v, low) >= 0 && cmp(v, high) < 0;
    }
  }
}

/**
 * A semver range as npm writes them, over versions without pre-releases: comparators (`>=1.2`,
 * `<2`, `^1.4`, `~1.4.2`, `1.x`, `1.2.3`) joined by spaces (all must hold) and `||` (either side).
 * Undefined when `text` is not one.
 */
export function parseRange(text: string): ((v: Version) => boolean) | undefined {
  const alternatives: Test[][] = [];
  for (const alt of text.split('||')) {
    const words = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) return undefined;
    const tests: Test[] = [];
    for (const w of words) {
      const t = comparator(w);
      if (!t) return undefined;
      tests.push(t);
    }
    alternatives.push(tests);
  }
  return (v) => alternatives.some((tests) => tests.every((t) => t(v)));
}
