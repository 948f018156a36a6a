import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/oci/digest.ts';
import { maxPageSize } from '../../src/registry/paging.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';
import { pushTinyImage } from '../support/mirror.ts';

/** Names whose lexical order is not the directory tree's: `a-b` and `a.b` sort between `a` and `a/x`. */
const names = ['a', 'a-b', 'a-b/c', 'a.b', 'a/x', 'a/x/y', 'a0', 'b/c/d', 'b/c/d-e', 'b/c/d/e', 'z'];

let dir: string;
let registry: StoredRegistry;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-catalog-'));
  const driver = new FsDriver(dir);
  await driver.init();
  registry = new StoredRegistry(driver);
  for (const name of names) await pushTinyImage(registry, name, 'v1', name);
  // A repository with blobs but no manifest is not listed; its subtree still is.
  const session = await registry.uploads.start('b/only-blobs', 'sha256');
  await registry.uploads.finish('b/only-blobs', session.id, digestBytes(new Uint8Array(0)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every page of `n` names, following `next` as a client follows `Link`. */
async function walk(n: number): Promise<string[][]> {
  const pages: string[][] = [];
  let last: string | undefined;
  for (;;) {
    const page = await registry.catalog(last === undefined ? { n } : { n, last });
    pages.push(page.items);
    if (page.next === undefined) return pages;
    expect(page.next).toBe(page.items.at(-1));
    last = page.next;
  }
}

describe('catalog, walked lazily in lexical order', () => {
  it('lists every repository holding a manifest in code-point order', async () => {
    expect((await registry.catalog({})).items).toEqual([...names].sort());
  });

  it('pages of every size join up to the whole list, the last page without a next', async () => {
    for (const n of [1, 2, 3, 5, names.length, names.length + 1]) {
      const pages = await walk(n);
      expect(pages.flat()).toEqual([...names].sort());
      expect(pages.slice(0, -1).every((p) => p.length === n)).toBe(true);
    }
  });

  it('starts after any `last`, listed or not, and caps n at the page limit', async () => {
    expect((await registry.catalog({ last: 'a-b' })).items).toEqual(['a-b/c', 'a.b', 'a/x', 'a/x/y', 'a0', 'b/c/d', 'b/c/d-e', 'b/c/d/e', 'z']);
    expect((await registry.catalog({ last: 'a/' })).items).toEqual(['a/x', 'a/x/y', 'a0', 'b/c/d', 'b/c/d-e', 'b/c/d/e', 'z']);
    expect((await registry.catalog({ last: 'b/c/d.' })).items).toEqual(['b/c/d/e', 'z']);
    expect((await registry.catalog({ last: 'zz' })).items).toEqual([]);
    expect(await registry.catalog({ n: 0 })).toEqual({ items: [] });
    expect((await registry.catalog({ n: maxPageSize + 5 })).items).toHaveLength(names.length);
  });
});
