import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Every file below `dir`, as paths relative to it with `/` separators. */
async function files(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const part of createReadStream(path)) hash.update(part as Buffer);
  return hash.digest('hex');
}

const blobPath = (root: string, algorithm: string, hex: string): string => join(root, 'blobs', algorithm, hex.slice(0, 2), hex);

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/**
 * Walks a berth data directory (layout in DESIGN.md) and lists what a reader could see half-written:
 * a blob whose bytes do not hash to its name, or a link, tag or referrer entry whose blob is missing.
 * An empty list means the store is consistent.
 */
export async function storeProblems(root: string): Promise<string[]> {
  const problems: string[] = [];
  for (const file of await files(join(root, 'blobs'))) {
    const [algorithm = '', prefix = '', hex = '', ...more] = file.split('/');
    if (more.length > 0 || hex.slice(0, 2) !== prefix) {
      problems.push(`blobs/${file}: not at blobs/<alg>/<first two hex>/<hex>`);
      continue;
    }
    const actual = await hashFile(join(root, 'blobs', file), algorithm).catch(() => `(cannot hash with ${algorithm})`);
    if (actual !== hex) problems.push(`blobs/${file}: content hashes to ${actual}`);
  }
  const needBlob = async (where: string, digest: string): Promise<void> => {
    const [algorithm = '', hex = ''] = digest.split(':');
    if (!(await exists(blobPath(root, algorithm, hex)))) problems.push(`${where} refers to ${digest}, whose blob is missing`);
  };
  for (const file of await files(join(root, 'repositories'))) {
    const where = `repositories/${file}`;
    const parts = file.split('/');
    const marker = parts.findIndex((p) => p.startsWith('_'));
    const [kind, ...rest] = parts.slice(marker);
    const content = (await readFile(join(root, where), 'utf8')).trim();
    if (kind === '_blobs' || kind === '_manifests') await needBlob(where, `${rest[0]}:${rest[1]}`);
    else if (kind === '_tags') {
      await needBlob(where, content);
      const [algorithm = '', hex = ''] = content.split(':');
      const link = join(root, 'repositories', ...parts.slice(0, marker), '_manifests', algorithm, hex);
      if (!(await exists(link))) problems.push(`${where} points at ${content}, which the repository does not hold`);
    }
    else if (kind === '_referrers') await needBlob(where, (JSON.parse(content) as { digest: string }).digest);
    else problems.push(`${where}: unexpected entry`);
  }
  return problems;
}
