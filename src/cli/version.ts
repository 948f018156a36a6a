import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * berth's version, from the package.json above this module: the same file in a checkout (Bun and
 * Deno run src/), in dist/ (Node) and in the container images, which copy it.
 */
export async function packageVersion(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'berth' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not readable): keep climbing.
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
