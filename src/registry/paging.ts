export interface PageRequest {
  /** At most this many entries; undefined means the registry's page limit. */
  n?: number;
  /** Entries after this one, in lexical order. */
  last?: string;
}

export interface Page<T> {
  items: T[];
  /** The last entry returned, when more follow (for the `Link: rel="next"` header). */
  next?: string;
}

/** Default and ceiling of `n` for tag and catalog listings. */
export const maxPageSize = 1000;

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts lexically, skips through `last`, and cuts at `n` (spec: Listing Tags). */
export function page(all: string[], { n, last }: PageRequest): Page<string> {
  const sorted = [...all].sort(byCodePoint);
  const from = last === undefined ? sorted : sorted.filter((s) => s > last);
  const size = Math.min(n ?? maxPageSize, maxPageSize);
  const items = from.slice(0, size);
  const lastItem = items.at(-1);
  return from.length > size && lastItem !== undefined ? { items, next: lastItem } : { items };
}
