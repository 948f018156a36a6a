import type { Driver } from '../storage/driver.ts';
import { Limiter } from './bounded.ts';
import { layout } from './layout.ts';

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Repository names under `repositories/` whose directory entries satisfy `holds`, in lexical
 * order, produced as they are found: a page of the catalog reads only the directories up to its
 * end, and a subtree entirely before `after` is not read at all. Name components never start with
 * `_`, so `_`-entries are berth's own and mark a repository. At most `limiter`'s few listings are
 * in flight however deep or wide the tree, and memory is the path being walked plus a window of
 * listings read ahead.
 *
 * Lexical order is not the tree's order: `a-b` sorts between `a` and `a/x`. So each directory
 * entry `c` is visited twice, as the name `c` and as the subtree `c/`, in the order of those two
 * keys among its siblings' (no sibling sorts inside `c/...`, as none holds a `/`).
 */
export async function* walkRepositories(
  driver: Driver,
  holds: (entries: string[]) => boolean,
  after?: string,
  limiter = new Limiter(),
  /** Only the repository of this name and those under it. */
  under?: string,
): AsyncGenerator<string> {
  const list = (prefix: string): Promise<string[]> => limiter.run(() => driver.list(prefix));
  /** Whether no name under `prefix/` comes after `after`: the subtree can be skipped unread. */
  const before = (prefix: string): boolean => after !== undefined && after > `${prefix}/` && !after.startsWith(`${prefix}/`);
  const notAfter = (name: string): boolean => after !== undefined && name <= after;

  async function* walk(key: string, name: string, entries: string[]): AsyncGenerator<string> {
    const children = entries.filter((e) => !e.startsWith('_'));
    const visits = children.flatMap((c) => [
      { sort: c, child: c, subtree: false },
      { sort: `${c}/`, child: c, subtree: true },
    ]);
    visits.sort((a, b) => byCodePoint(a.sort, b.sort));
    const full = (c: string): string => (name === '' ? c : `${name}/${c}`);
    const wanted = visits.filter((v) => (v.subtree ? !before(full(v.child)) : !notAfter(full(v.child))));
    const descended = new Set(wanted.filter((v) => v.subtree).map((v) => v.child));
    // Each child's listing serves both of its visits; a window of them is read ahead.
    const listings = new Map<string, Promise<string[]>>();
    const fetch = (c: string): Promise<string[]> => {
      let p = listings.get(c);
      if (!p) {
        p = list(`${key}/${c}`);
        // Read ahead; a failure is thrown where it is awaited.
        p.catch(() => undefined);
        listings.set(c, p);
      }
      return p;
    };
    const window = 8;
    for (const [i, v] of wanted.entries()) {
      for (const ahead of wanted.slice(i + 1, i + 1 + window)) fetch(ahead.child);
      const childEntries = await fetch(v.child);
      if (!v.subtree) {
        if (holds(childEntries)) yield full(v.child);
        // Its subtree visit, if wanted, comes later and needs the listing again.
        if (!descended.has(v.child)) listings.delete(v.child);
        continue;
      }
      listings.delete(v.child);
      yield* walk(`${key}/${v.child}`, full(v.child), childEntries);
    }
  }

  if (under === undefined) {
    yield* walk(layout.repositories, '', await list(layout.repositories));
    return;
  }
  const entries = await list(layout.repository(under));
  if (holds(entries) && !notAfter(under)) yield under;
  yield* walk(layout.repository(under), under, entries);
}

/** Entries of a repository directory that hold any of berth's own records. */
export const isRepository = (entries: string[]): boolean => entries.some((e) => e.startsWith('_'));
