import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface LayoutBlob {
  digest: string;
  size: number;
  mediaType: string;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A real gzipped tar layer holding one random file, made with the system's tar. */
async function makeLayer(work: string, i: number, bytes: number): Promise<Buffer> {
  const dir = await mkdtemp(join(work, 'layer-'));
  await writeFile(join(dir, `file-${i}.bin`), randomBytes(bytes));
  const out = join(work, `layer-${i}.tar.gz`);
  execFileSync('tar', ['-czf', out, '-C', dir, '.']);
  await rm(dir, { recursive: true });
  return readFile(out);
}

/**
 * Writes an OCI image layout holding a two-platform index whose images share one layer, tagged
 * `tag`. Returns the layout directory and the index digest.
 */
export async function makeImageLayout(tag: string, layerSizes = [300_000, 50_000, 2_000_000]): Promise<{ dir: string; index: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-layout-'));
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const put = async (bytes: Uint8Array, mediaType: string): Promise<LayoutBlob> => {
    const digest = sha256(bytes);
    await writeFile(join(blobsDir, digest.slice(7)), bytes);
    return { digest, size: bytes.byteLength, mediaType };
  };
  // A config's diff_ids are the digests of the uncompressed layers; runtimes check them on unpack.
  const diffIds = new Map<string, string>();
  const layer = async (i: number, size: number): Promise<LayoutBlob> => {
    const gz = await makeLayer(dir, i, size);
    const blob = await put(gz, 'application/vnd.oci.image.layer.v1.tar+gzip');
    diffIds.set(blob.digest, sha256(gunzipSync(gz)));
    return blob;
  };
  const shared = await layer(0, 100_000);
  const manifests: Array<LayoutBlob & { platform: { architecture: string; os: string } }> = [];
  for (const [n, architecture] of ['amd64', 'arm64'].entries()) {
    const layers = [shared];
    for (const [i, size] of layerSizes.entries()) {
      layers.push(await layer(10 * (n + 1) + i, size));
    }
    const config = await put(
      Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => diffIds.get(l.digest)) }, config: {} })),
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }),
    );
    manifests.push({ ...(await put(manifest, 'application/vnd.oci.image.manifest.v1+json')), platform: { architecture, os: 'linux' } });
  }
  const index = await put(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })),
    'application/vnd.oci.image.index.v1+json',
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  for (const f of await readdir(dir)) {
    if (f.endsWith('.tar.gz')) await rm(join(dir, f));
  }
  return { dir, index: index.digest };
}
