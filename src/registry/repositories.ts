import type { Driver } from '../storage/driver.ts';
import { layout } from './layout.ts';

/**
 * Every directory under `repositories/` with its entries, one listing at a time, for as long as
 * the caller reads. Name components never start with `_`, so `_`-entries are berth's own and mark
 * a repository.
 */
export async function* repositoryDirectories(driver: Driver, prefix: string = layout.repositories, name = ''): AsyncGenerator<{ name: string; entries: string[] }> {
  const entries = await driver.list(prefix);
  if (name !== '') yield { name, entries };
  for (const entry of entries) {
    if (!entry.startsWith('_')) yield* repositoryDirectories(driver, `${prefix}/${entry}`, name === '' ? entry : `${name}/${entry}`);
  }
}

/** Repository names whose directory entries satisfy `holds`, sorted. */
export async function findRepositories(driver: Driver, holds: (entries: string[]) => boolean): Promise<string[]> {
  const names: string[] = [];
  for await (const { name, entries } of repositoryDirectories(driver)) if (holds(entries)) names.push(name);
  return names.sort();
}
