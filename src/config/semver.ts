/**
 * Semantic versions and ranges, for settings that select tags by version (`semver: ">=1.2 <2"`).
 * The range syntax is npm's (node-semver): comparators `<`, `<=`, `>`, `>=`, `=`, caret `^1.2.3`,
 * tilde `~1.2`, x-ranges `1.x`, `1.2.*`, `*`, hyphen ranges `1.2 - 2.3.4`, sets joined by `||`. As
 * there, a pre-release (`1.3.0-rc.1`) satisfies a range only when one of its comparators names a
 * pre-release of the same major.minor.patch.
 *
 * A tag is a version when it is a whole one, `1.2.3` or `v1.2.3`, with an optional pre-release
 * (`-rc.1`); `1.2`, `latest` or `1.2.3.4` are not, and satisfy no range.
 */

export interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease: Array<string | number>;
}

const ident = String.raw`(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)`;
const versionRe = new RegExp(String.raw`^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(${ident}(?:\.${ident})*))?$`);

const prereleaseOf = (text: string | undefined): Array<string | number> =>
  text === undefined ? [] : text.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/** A tag or version string as a version; undefined when it is not a whole one. */
export function parseVersion(text: string): Version | undefined {
  const m = versionRe.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease: prereleaseOf(m[4]) };
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Semver precedence: negative, zero or positive as `a` is below, equal to or above `b`. */
export function compareVersions(a: Version, b: Version): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return core;
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const [x, y] = [a.prerelease[i], b.prerelease[i]];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = compareIdentifiers(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

type Operator = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  op: Operator;
  version: Version;
}
/** Comparators that must all hold; an empty set holds for every release. */
type ComparatorSet = Comparator[];

/** A version with parts left out (`1`, `1.2`, `1.x`, `*`): undefined parts are wildcards. */
interface Partial {
  major?: number;
  minor?: number;
  patch?: number;
  prerelease: Array<string | number>;
}

const partialRe = new RegExp(String.raw`^[vV]?(\d+|[xX*])(?:\.(\d+|[xX*])(?:\.(\d+|[xX*])(?:-(${ident}(?:\.${ident})*))?)?)?$`);

function parsePartial(text: string): Partial | undefined {
  if (text === '' || text === '*' || text === 'x' || text === 'X') return { prerelease: [] };
  const m = partialRe.exec(text);
  if (!m) return undefined;
  const num = (s: string | undefined): number | undefined => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const [major, minor, patch] = [num(m[1]), num(m[2]), num(m[3])];
  // A wildcard ends the version: `1.x.3` is not a range.
  if ((major === undefined && minor !== undefined) || (minor === undefined && patch !== undefined)) return undefined;
  if (m[4] !== undefined && patch === undefined) return undefined;
  return { major, minor, patch, prerelease: prereleaseOf(m[4]) };
}

const v = (major: number, minor: number, patch: number, prerelease: Array<string | number> = []): Version => ({ major, minor, patch, prerelease });
/** The lowest version above every release of a series: `2.0.0-0` for `1.x`. */
const below = (major: number, minor: number, patch: number): Version => v(major, minor, patch, [0]);
const floor = (p: Partial): Version => v(p.major ?? 0, p.minor ?? 0, p.patch ?? 0, p.prerelease);

/** The first version past what `p` covers: `2.0.0-0` for `1`, `1.3.0-0` for `1.2`. */
function ceiling(p: Partial): Version | undefined {
  if (p.major === undefined) return undefined;
  if (p.minor === undefined) return below(p.major + 1, 0, 0);
  if (p.patch === undefined) return below(p.major, p.minor + 1, 0);
  return undefined;
}

function xRange(op: Operator | '', p: Partial): ComparatorSet {
  const exact = p.patch !== undefined;
  if (p.major === undefined) return op === '<' || op === '>' ? [{ op: '<', version: v(0, 0, 0, [0]) }] : [];
  const ceil = ceiling(p);
  switch (op) {
    case '':
    case '=':
      return exact ? [{ op: '=', version: floor(p) }] : [{ op: '>=', version: floor(p) }, { op: '<', version: ceil! }];
    case '>=':
      return [{ op: '>=', version: floor(p) }];
    case '<':
      return [{ op: '<', version: exact ? floor(p) : v(p.major, p.minor ?? 0, 0, [0]) }];
    case '>':
      return exact ? [{ op: '>', version: floor(p) }] : [{ op: '>=', version: ceil! }];
    case '<=':
      return exact ? [{ op: '<=', version: floor(p) }] : [{ op: '<', version: ceil! }];
  }
}

function caret(p: Partial): ComparatorSet {
  if (p.major === undefined) return [];
  const lower: Comparator = { op: '>=', version: floor(p) };
  if (p.major > 0 || p.minor === undefined) return [lower, { op: '<', version: below(p.major + 1, 0, 0) }];
  if (p.minor > 0 || p.patch === undefined) return [lower, { op: '<', version: below(0, p.minor + 1, 0) }];
  return [lower, { op: '<', version: below(0, 0, p.patch + 1) }];
}

function tilde(p: Partial): ComparatorSet {
  if (p.major === undefined) return [];
  const upper = p.minor === undefined ? below(p.major + 1, 0, 0) : below(p.major, p.minor + 1, 0);
  return [{ op: '>=', version: floor(p) }, { op: '<', version: upper }];
}

function hyphen(from: Partial, to: Partial): ComparatorSet {
  const set: ComparatorSet = from.major === undefined ? [] : [{ op: '>=', version: floor(from) }];
  if (to.major === undefined) return set;
  const ceil = ceiling(to);
  return [...set, ceil ? { op: '<', version: ceil } : { op: '<=', version: floor(to) }];
}

function parseSet(text: string): ComparatorSet | undefined {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 3 && words[1] === '-') {
    const [from, to] = [parsePartial(words[0]!), parsePartial(words[2]!)];
    return from && to ? hyphen(from, to) : undefined;
  }
  // `>= 1.2` is `>=1.2`: an operator may stand apart from its version.
  const joined: string[] = [];
  for (const w of words) {
    const last = joined.at(-1);
    if (last !== undefined && /^(?:[<>]=?|=|\^|~)$/.test(last)) joined[joined.length - 1] = last + w;
    else joined.push(w);
  }
  const set: ComparatorSet = [];
  for (const word of joined) {
    const m = /^(<=|>=|<|>|=|\^|~>?)?(.*)$/.exec(word)!;
    const p = parsePartial(m[2]!);
    if (!p) return undefined;
    const op = m[1] ?? '';
    if (op === '^') set.push(...caret(p));
    else if (op === '~' || op === '~>') set.push(...tilde(p));
    else set.push(...xRange(op as Operator | '', p));
  }
  return set;
}

function holds(c: Comparator, version: Version): boolean {
  const cmp = compareVersions(version, c.version);
  switch (c.op) {
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
    case '=':
      return cmp === 0;
  }
}

function satisfiesSet(set: ComparatorSet, version: Version): boolean {
  if (!set.every((c) => holds(c, version))) return false;
  if (version.prerelease.length === 0) return true;
  return set.some((c) => c.version.prerelease.length > 0 && c.version.major === version.major && c.version.minor === version.minor && c.version.patch === version.patch);
}

/** A parsed range: whether a version satisfies it. */
export type Range = (version: Version) => boolean;

/** A range such as `^1.2`, `>=1.0.0 <2.0.0` or `1.x || 2.x`; undefined when it is not one. */
export function parseRange(text: string): Range | undefined {
  const sets: ComparatorSet[] = [];
  for (const part of text.split('||')) {
    const set = parseSet(part);
    if (!set) return undefined;
    sets.push(set);
  }
  return (version) => sets.some((set) => satisfiesSet(set, version));
}
