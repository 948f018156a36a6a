export interface PageRequest {
  /** At most this many entries; undefined means the registry's page limit. */
  n?: number;
  /** Entries after this one, in lexical order. */
  last?: string;
}

export interface Page<T> {
  items: T[];
  /** The key of the last entry returned, when more follow (for the `Link: rel="next"` header). */
  next?: string;
}

/** Default and ceiling of `n` for listings. */
export const maxPageSize = 1000;

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts lexically by key, skips through `last`, and cuts at `n` (spec: Listing Tags). */
export function page<T>(all: readonly T[], { n, last }: PageRequest, key: (item: T) => string): Page<T> {
  const sorted = [...all].sort((a, b) => byCodePoint(key(a), key(b)));
  const from = last === undefined ? sorted : sorted.filter((s) => key(s) > last);
  const size = Math.min(n ?? maxPageSize, maxPageSize);
  const items = from.slice(0, size);
  const lastItem = items.at(-1);
  return from.length > size && lastItem !== undefined ? { items, next: key(lastItem) } : { items };
}

export const pageOfNames = (all: readonly string[], request: PageRequest): Page<string> => page(all, request, (s) => s);

/**
 * The page `page` would cut from `names` when they arrive sorted and already past `last`: it
 * stops reading at the first name beyond the page, so a lazy walk reads no further.
 */
export async function pageOfSorted(names: AsyncIterable<string>, { n }: PageRequest): Promise<Page<string>> {
  const size = Math.min(n ?? maxPageSize, maxPageSize);
  const items: string[] = [];
  for await (const name of names) {
    if (items.length === size) {
      const lastItem = items.at(-1);
      return lastItem === undefined ? { items } : { items, next: lastItem };
    }
    items.push(name);
  }
  return { items };
}

/**
 * A page of the catalog holding only the names `visible` lets through, with `n` and `last` applied
 * to the visible names, so paging never reveals a hidden name (not even as a `Link` cursor).
 */
export async function visiblePage(
  fetchPage: (request: PageRequest) => Promise<Page<string>>,
  request: PageRequest,
  visible: (name: string) => boolean,
): Promise<Page<string>> {
  const want = Math.min(request.n ?? maxPageSize, maxPageSize);
  const items: string[] = [];
  if (want === 0) return { items };
  let cursor = request.last;
  for (;;) {
    const page = await fetchPage(cursor === undefined ? { n: maxPageSize } : { n: maxPageSize, last: cursor });
    for (const name of page.items) {
      if (!visible(name)) continue;
      // One more visible name beyond a full page: there is a next page, starting after the last shown.
      if (items.length === want) return { items, next: items[items.length - 1] as string };
      items.push(name);
    }
    if (page.next === undefined) return { items };
    cursor = page.next;
  }
}
