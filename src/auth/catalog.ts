import type { Page, PageRequest } from '../registry/paging.ts';
import { maxPageSize } from '../registry/paging.ts';

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
