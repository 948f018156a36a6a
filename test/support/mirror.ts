import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { digestBytes, formatDigest } from '../../src/oci/digest.ts';
import type { Registry } from '../../src/registry/registry.ts';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import type { TestServer } from './server.ts';
import { startServerOn } from './storage.ts';

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

export const mediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** Every manifest type: what a multi-arch-aware client sends. */
export const allManifestTypes = Object.values(mediaType).join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

/** PUTs a manifest (by tag or digest) on a registry; returns its descriptor. */
export async function putManifest(registry: string, repo: string, reference: string | undefined, body: unknown, type: string): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const digest = sha256(bytes);
  const res = await fetch(`${registry}/v2/${repo}/manifests/${reference ?? digest}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': type } });
  if (res.status !== 201) throw new Error(`manifest PUT: ${res.status} ${await res.text()}`);
  return { mediaType: type, digest, size: bytes.byteLength };
}

/**
 * Pushes an image of these layers (and a config naming `architecture`) over HTTP, by digest;
 * docker v2 or OCI media types. Returns its descriptor and the digests of its config and layers.
 */
export async function pushHttpImage(
  registry: string,
  repo: string,
  layers: Uint8Array<ArrayBuffer>[],
  opts: { docker?: boolean; architecture?: string } = {},
): Promise<Descriptor & { blobs: string[] }> {
  const architecture = opts.architecture ?? 'amd64';
  const config = new TextEncoder().encode(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
  const configType = opts.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json';
  const layerType = opts.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const type = opts.docker ? mediaType.dockerManifest : mediaType.ociManifest;
  const configDigest = await pushBlob(registry, repo, config);
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push({ mediaType: layerType, digest: await pushBlob(registry, repo, layer), size: layer.byteLength });
  const manifest = {
    schemaVersion: 2,
    mediaType: type,
    config: { mediaType: configType, digest: configDigest, size: config.byteLength },
    layers: layerDescriptors,
  };
  const pushed = await putManifest(registry, repo, undefined, manifest, type);
  return { ...pushed, platform: { architecture, os: 'linux' }, blobs: [configDigest, ...layerDescriptors.map((l) => l.digest)] };
}

/** Pushes an index (OCI) or manifest list (docker) of these images under `tag`. */
export async function pushHttpIndex(registry: string, repo: string, tag: string, images: Descriptor[], opts: { docker?: boolean } = {}): Promise<Descriptor> {
  const type = opts.docker ? mediaType.dockerList : mediaType.ociIndex;
  return putManifest(registry, repo, tag, { schemaVersion: 2, mediaType: type, manifests: images }, type);
}

/** GETs a manifest or blob, failing unless it answers 200 with bytes of the digest asked for. */
export async function fetchVerified(registry: string, repo: string, kind: 'manifests' | 'blobs', digest: string): Promise<Uint8Array> {
  const res = await fetch(`${registry}/v2/${repo}/${kind}/${digest}`, { headers: { Accept: allManifestTypes } });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${repo}/${kind}/${digest}: ${res.status} ${new TextDecoder().decode(body)}`);
  if (sha256(body) !== digest) throw new Error(`GET ${repo}/${kind}/${digest}: body hashes to ${sha256(body)}`);
  return body;
}

/**
 * Pulls `repo:tag` as a multi-arch client would (the tag, then every child manifest and all their
 * blobs by digest), verifying every digest. Returns the tag's digest and everything fetched.
 */
export async function pullAll(registry: string, repo: string, tag: string): Promise<{ digest: string; fetched: string[] }> {
  const res = await fetch(`${registry}/v2/${repo}/manifests/${tag}`, { headers: { Accept: allManifestTypes } });
  if (res.status !== 200) throw new Error(`GET ${repo}:${tag}: ${res.status} ${await res.text()}`);
  const top = new Uint8Array(await res.arrayBuffer());
  const digest = sha256(top);
  const fetched = [digest];
  const walk = async (bytes: Uint8Array): Promise<void> => {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    for (const m of doc.manifests ?? []) {
      fetched.push(m.digest);
      await walk(await fetchVerified(registry, repo, 'manifests', m.digest));
    }
    for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      fetched.push(b.digest);
      await fetchVerified(registry, repo, 'blobs', b.digest);
    }
  };
  await walk(top);
  return { digest, fetched };
}

export interface MirrorStack {
  upstream: Distribution;
  /** The fault proxy in front of the upstream, which the mirror's upstreams point at. */
  proxy: FaultProxy;
  mirror: TestServer;
  stop(): Promise<void>;
}

/**
 * CNCF distribution as the upstream, the fault proxy in front of it, and a berth mirror (on
 * TEST_STORAGE) configured with the YAML lines under `mirror:` that `lines` gives for the proxy's URL.
 */
export async function startMirrorStack(lines: (proxyUrl: string) => string[]): Promise<MirrorStack> {
  const upstream = await startDistribution();
  const proxy = await startFaultProxy(upstream.url);
  const config = await writeConfig(['mirror:', ...lines(proxy.url).map((l) => `  ${l}`), ''].join('\n'));
  const mirror = await startServerOn(undefined, { args: ['--config', config] });
  return {
    upstream,
    proxy,
    mirror,
    stop: async () => {
      if (process.env.MIRROR_LOGS) console.log(mirror.logs());
      await mirror.stop();
      await proxy.close();
      await upstream.stop();
    },
  };
}
