import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** A berth store as the consistency check reads it, local disk or S3: keys as in DESIGN.md's layout. */
export interface StoreReader {
  /** Every key below `prefix/`, relative to it. */
  keys(prefix: string): Promise<string[]>;
  /** The object's bytes as a stream, or undefined when it is missing. */
  open(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  exists(key: string): Promise<boolean>;
}

/** A data directory of the fs driver. */
export function diskStore(root: string): StoreReader {
  return {
    async keys(prefix) {
      let entries;
      try {
        entries = await readdir(join(root, prefix), { recursive: true, withFileTypes: true });
      } catch {
        return [];
      }
      return entries.filter((e) => e.isFile()).map((e) => relative(join(root, prefix), join(e.parentPath, e.name)).split(sep).join('/'));
    },
    async open(key) {
      return (await this.exists(key)) ? (createReadStream(join(root, key)) as AsyncIterable<Uint8Array>) : undefined;
    },
    async exists(key) {
      return (await stat(join(root, key)).catch(() => undefined))?.isFile() ?? false;
    },
  };
}

/** A bucket of the S3 driver (keys under `prefix/` when berth has one). */
export function bucketStore(client: S3Client, bucket: string, prefix = ''): StoreReader {
  const full = (key: string): string => (prefix ? `${prefix}/${key}` : key);
  return {
    async keys(under) {
      const start = `${full(under)}/`;
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: start, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key.slice(start.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async open(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        return r.Body as AsyncIterable<Uint8Array> | undefined;
      } catch {
        return undefined;
      }
    },
    async exists(key) {
      return client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) })).then(
        () => true,
        () => false,
      );
    },
  };
}

async function hash(body: AsyncIterable<Uint8Array>, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  for await (const part of body) h.update(part);
  return h.digest('hex');
}

async function text(store: StoreReader, key: string): Promise<string> {
  const body = await store.open(key);
  if (!body) return '';
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString('utf8').trim();
}

const blobKey = (algorithm: string, hex: string): string => `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;

/** The config and layers (blobs) and the children (manifests) a stored manifest names; none when it does not parse. */
function referencesOf(json: string): Array<{ digest: string; manifest: boolean }> {
  try {
    const doc = JSON.parse(json) as { config?: { digest?: unknown }; layers?: Array<{ digest?: unknown }>; manifests?: Array<{ digest?: unknown }> };
    const digests = (list: Array<{ digest?: unknown }> | undefined): string[] => (list ?? []).flatMap((d) => (typeof d.digest === 'string' ? [d.digest] : []));
    return [
      ...digests(doc.config ? [doc.config, ...(doc.layers ?? [])] : doc.layers).map((digest) => ({ digest, manifest: false })),
      ...digests(doc.manifests).map((digest) => ({ digest, manifest: true })),
    ];
  } catch {
    return [];
  }
}

/**
 * Walks a berth store (layout in DESIGN.md) and lists what a reader could see half-written: a blob
 * whose bytes do not hash to its name, or a link, tag or referrer entry whose blob is missing.
 * An empty list means the store is consistent.
 */
export async function storeProblemsIn(store: StoreReader): Promise<string[]> {
  const problems: string[] = [];
  for (const file of await store.keys('blobs')) {
    const [algorithm = '', prefix = '', hex = '', ...more] = file.split('/');
    if (more.length > 0 || hex.slice(0, 2) !== prefix) {
      problems.push(`blobs/${file}: not at blobs/<alg>/<first two hex>/<hex>`);
      continue;
    }
    const body = await store.open(`blobs/${file}`);
    const actual = body ? await hash(body, algorithm).catch(() => `(cannot hash with ${algorithm})`) : '(gone while checking)';
    if (actual !== hex) problems.push(`blobs/${file}: content hashes to ${actual}`);
  }
  const needBlob = async (where: string, digest: string): Promise<void> => {
    const [algorithm = '', hex = ''] = digest.split(':');
    if (!(await store.exists(blobKey(algorithm, hex)))) problems.push(`${where} refers to ${digest}, whose blob is missing`);
  };
  for (const file of await store.keys('repositories')) {
    const where = `repositories/${file}`;
    const parts = file.split('/');
    const marker = parts.findIndex((p) => p.startsWith('_'));
    const [kind, ...rest] = parts.slice(marker);
    if (kind === '_blobs') await needBlob(where, `${rest[0]}:${rest[1]}`);
    else if (kind === '_manifests') {
      const digest = `${rest[0]}:${rest[1]}`;
      await needBlob(where, digest);
      // What the manifest references must be in the repository too: a pull of it must not break.
      const repository = ['repositories', ...parts.slice(0, marker)].join('/');
      for (const ref of referencesOf(await text(store, blobKey(rest[0] ?? '', rest[1] ?? '')))) {
        const [algorithm = '', hex = ''] = ref.digest.split(':');
        const link = `${repository}/${ref.manifest ? '_manifests' : '_blobs'}/${algorithm}/${hex}`;
        if (!(await store.exists(link))) problems.push(`${where} references ${ref.digest}, which the repository does not hold`);
        else await needBlob(`${where} (through ${ref.digest})`, ref.digest);
      }
    } else if (kind === '_tags') {
      const content = await text(store, where);
      await needBlob(where, content);
      const [algorithm = '', hex = ''] = content.split(':');
      const link = ['repositories', ...parts.slice(0, marker), '_manifests', algorithm, hex].join('/');
      if (!(await store.exists(link))) problems.push(`${where} points at ${content}, which the repository does not hold`);
    } else if (kind === '_referrers') await needBlob(where, (JSON.parse(await text(store, where)) as { digest: string }).digest);
    else if (kind === '_pulls' && rest.length === 0) {
      // Pull times (src/registry/usage.ts): they name tags and digests but keep nothing alive; they must parse.
      try {
        JSON.parse(await text(store, where));
      } catch {
        problems.push(`${where}: pull times that do not parse`);
      }
    } else problems.push(`${where}: unexpected entry`);
  }
  return problems;
}

/** storeProblemsIn for a data directory of the fs driver. */
export const storeProblems = (root: string): Promise<string[]> => storeProblemsIn(diskStore(root));
