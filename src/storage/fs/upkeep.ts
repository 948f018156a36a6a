import { readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { fsError, isNotFound } from './errors.ts';

/** Removes what is in `dir` and was last modified more than `age` ms ago; returns how many entries. */
export async function sweepOlderThan(dir: string, age: number): Promise<number> {
  const now = Date.now();
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw fsError(e, `list ${dir}`);
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (now - (await stat(path)).mtimeMs < age) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    } catch (e) {
      if (!isNotFound(e)) throw fsError(e, `remove ${path}`);
    }
  }
  return removed;
}

/** Bytes an unprivileged writer may still use on the filesystem holding `path`. */
export async function freeSpace(path: string): Promise<number> {
  try {
    const s = await statfs(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch (e) {
    throw fsError(e, `statfs ${path}`);
  }
}
