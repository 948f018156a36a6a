import { digestBytes, formatDigest } from '../../src/oci/digest.ts';
import type { Registry } from '../../src/registry/registry.ts';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes `bytes` as a blob of `repo` on a registry (POST then PUT), returning its digest. */
export async function pushBlob(registry: string, repo: string, bytes: Uint8Array<ArrayBuffer> = randomBytes(3 << 20)): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`${registry}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', registry);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload finish: ${put.status} ${await put.text()}`);
  return digest;
}

/** Writes a berth YAML config into a fresh temporary directory and returns its path. */
export async function writeConfig(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-mirror-config-'));
  const file = join(dir, 'berth.yaml');
  await writeFile(file, yaml);
  return file;
}

/** GETs a URL and hashes the body; a body cut off becomes `{ error }`. */
export async function fetchDigest(url: string, headers: Record<string, string> = {}): Promise<{ status: number; digest?: string; error?: string }> {
  try {
    const res = await fetch(url, { headers });
    const body = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, digest: sha256(body) };
  } catch (e) {
    return { status: 0, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Pushes a small image (these layers, a config naming `label`) into an in-process Registry; returns the manifest digest. */
export async function pushTinyImage(registry: Registry, name: string, tag: string, label: string, layers: Uint8Array[] = []): Promise<string> {
  const blob = async (bytes: Uint8Array, mediaType: string) => {
    const digest = digestBytes(bytes);
    const session = await registry.uploads.start(name, 'sha256');
    // Any async iterable is a body; a one-element array wrapped in a generator is the simplest.
    await registry.uploads.finish(name, session.id, digest, { body: (async function* () { yield bytes; })() });
    return { mediaType, digest: formatDigest(digest), size: bytes.byteLength };
  };
  const config = await blob(new TextEncoder().encode(JSON.stringify({ label })), 'application/vnd.oci.image.config.v1+json');
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push(await blob(layer, 'application/vnd.oci.image.layer.v1.tar+gzip'));
  const manifest = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layerDescriptors }),
  );
  const pushed = await registry.manifests.put(name, { tag }, manifest, 'application/vnd.oci.image.manifest.v1+json', []);
  return formatDigest(pushed.digest);
}
