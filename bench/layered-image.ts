import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { blobChunks } from './blob-source.ts';

const KiB = 1024;
const MiB = 1024 ** 2;

/**
 * The 50 layers of the benchmark image (file sizes inside each layer's tar), ~68 MiB in all: a
 * mix like a real application image's, a distribution base, a few large layers, many small ones
 * and a tail of tiny ones, so both throughput and per-blob work (HEAD, upload sessions) count.
 * Not bigger: 64 concurrent pulls move 64 times the image per server and round, and the whole
 * images scenario should stay within a few minutes on a 2-core machine.
 */
const groups: Array<[count: number, bytes: number]> = [
  [1, 24 * MiB],
  [2, 10 * MiB],
  [4, 3 * MiB],
  [8, 1 * MiB],
  [15, 256 * KiB],
  [20, 16 * KiB],
];

/** The groups in a fixed interleaved order, base layer first, as images mix big and small layers. */
export const layerSizes: number[] = (() => {
  const queues = groups.map(([count, bytes]) => Array.from({ length: count }, () => bytes));
  const sizes: number[] = [];
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) sizes.push(q.shift()!);
  return sizes;
})();

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A ustar header for one regular file (mode 0644, owner 0, mtime 0). */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => void h.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, '0')}\0`;
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, ' '.repeat(8));
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** A tar of one file holding `size` pseudo-random bytes from the bench's blob source. */
function tarOf(name: string, size: number): Buffer {
  const parts = [tarHeader(name, size), ...blobChunks(size).chunks()];
  parts.push(Buffer.alloc((512 - (size % 512)) % 512), Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface LayeredImage {
  /** The OCI layout directory; the image is tagged `tag` in its index.json. */
  dir: string;
  tag: string;
  /** Bytes a pull fetches: manifest, config and every layer. */
  bytes: number;
  layers: number;
}

/**
 * Writes an OCI image layout holding one linux/amd64 image of `layerSizes`. Each layer is a real
 * tar, gzipped at level 0 (stored deflate blocks: valid gzip, cheap to make, and incompressible
 * like real compressed layers); the config's diff_ids are the digests of the tars, as runtimes
 * check on unpack.
 */
export async function makeLayeredImage(tag = 'v1'): Promise<LayeredImage> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-image-'));
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const put = async (bytes: Uint8Array, mediaType: string): Promise<{ mediaType: string; digest: string; size: number }> => {
    const digest = sha256(bytes);
    await writeFile(join(blobsDir, digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.byteLength };
  };
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  const diffIds: string[] = [];
  for (const [i, size] of layerSizes.entries()) {
    const tar = tarOf(`layer-${i}.bin`, size);
    diffIds.push(sha256(tar));
    layers.push(await put(gzipSync(tar, { level: 0 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  }
  const config = await put(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} })),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = await put(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })),
    'application/vnd.oci.image.manifest.v1+json',
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  const bytes = manifest.size + config.size + layers.reduce((n, l) => n + l.size, 0);
  return { dir, tag, bytes, layers: layers.length };
}
