import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/**
 * A file or directory setting. A relative one written in a config file is read against that
 * file's folder (src/config/load.ts), as distribution and most servers do; from a flag or the
 * environment, against the working directory.
 */
export const filePath = z.string().min(1).meta({ kind: 'path' });

/** A file path, or an http(s) URL, which is left as it is. */
export const fileOrUrl = z.string().min(1).meta({ kind: 'path-or-url' });

/** `value` read against `dir` when it is a relative path (URLs stay as they are). */
export function resolveAgainst(dir: string, value: string, urlAllowed: boolean): string {
  if (urlAllowed && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  return isAbsolute(value) ? value : resolve(dir, value);
}
