import type { Driver } from '../storage/driver.ts';
import { layout } from './layout.ts';

/**
 * Repository names under `repositories/` whose directory entries satisfy `holds`, sorted. Name
 * components never start with `_`, so `_`-entries are berth's own and mark a repository.
 */
export async function findRepositories(driver: Driver, holds: (entries: string[]) => boolean): Promise<string[]> {
  const names: string[] = [];
  const walk = async (prefix: string, name: string): Promise<void> => {
    const entries = await driver.list(prefix);
    if (name !== '' && holds(entries)) names.push(name);
    for (const entry of entries) if (!entry.startsWith('_')) await walk(`${prefix}/${entry}`, name === '' ? entry : `${name}/${entry}`);
  };
  await walk(layout.repositories, '');
  return names.sort();
}
