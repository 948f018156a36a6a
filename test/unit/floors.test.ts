import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const src = join(root, 'src');

/**
 * DESIGN.md: imports run down the floors only, config and oci at the bottom. A box may import its
 * own files and any box on a lower floor; boxes on one floor (auth, http, the mirror) never import
 * each other. The UI sits on them; the files directly in src/ (app, index, the composed schema)
 * above every box.
 */
const floors: Record<string, number> = {
  oci: 0,
  config: 0,
  observability: 1,
  // The contract each runtime implements and the server: limits it enforces; types, config and logging only.
  runtime: 1.5,
  // What replicas share beyond storage (Redis): the cache, the mirror and auth use it.
  coordination: 1.5,
  storage: 2,
  cache: 3,
  registry: 4,
  // Policies, one sweep and one scheduler over the registry's inventory; the mirror hands it its retention.
  maintenance: 4.5,
  // Events raised by the registry HTTP serves, queued per webhook and delivered.
  events: 4.5,
  auth: 5,
  http: 5,
  mirror: 5,
  // The web UI: pages over the registry's API, with access control's sign-in and the mirror's router.
  ui: 6,
  '(src)': 7,
  cli: 8,
};

const boxOf = (file: string): string => {
  const parts = relative(src, file).split('/');
  return parts.length === 1 ? '(src)' : (parts[0] as string);
};

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []))),
  );
  return nested.flat();
}

const importsOf = (text: string): string[] => [...text.matchAll(/^(?:import|export)\b[^'"]*?(?:from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1] as string);

describe('imports run down the floors (DESIGN.md)', () => {
  it('no file in src/ imports a box on its own floor or above', async () => {
    const files = await sources(src);
    expect(files.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    for (const file of files) {
      const from = boxOf(file);
      const floor = floors[from];
      if (floor === undefined) {
        wrong.push(`src/${from} is on no floor: place it in test/unit/floors.test.ts`);
        continue;
      }
      for (const spec of importsOf(await readFile(file, 'utf8'))) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(`${src}/`)) continue;
        const to = boxOf(target);
        if (to === from) continue;
        const toFloor = floors[to];
        if (toFloor === undefined || toFloor >= floor) wrong.push(`${relative(root, file)} imports ${relative(root, target)} (${from} → ${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('src/config holds only primitives and the loader: it imports nothing of berth', async () => {
    for (const file of await sources(join(src, 'config'))) {
      const outside = importsOf(await readFile(file, 'utf8')).filter((spec) => !resolve(dirname(file), spec).startsWith(join(src, 'config')));
      expect(outside, relative(root, file)).toEqual([]);
    }
  });
});
