import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Descriptor as OciDescriptor } from '../../src/oci/manifest.ts';
import type { Client, Reply } from './http.ts';

export type Algorithm = 'sha256' | 'sha512';

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const hexOf = (bytes: Uint8Array | string, algorithm: Algorithm = 'sha256'): string =>
  createHash(algorithm).update(bytes).digest('hex');

/** `<algorithm>:<hex>` of some bytes. */
export const digestOf = (bytes: Uint8Array | string, algorithm: Algorithm = 'sha256'): string =>
  `${algorithm}:${hexOf(bytes, algorithm)}`;

/** A digest nothing hashes to in practice. */
export const absentDigest = (): string => digestOf(randomBytes(32));

/** Random content: every call a different blob. */
export const blob = (size = 1024): Buffer => randomBytes(size);

let counter = 0;
/** A repository name no other test uses. */
export const repoName = (label: string): string => `${label}-${process.pid}-${++counter}`;

/** A descriptor as berth reads them, plus the `platform` of index entries. */
export type Descriptor = OciDescriptor & { platform?: { architecture: string; os: string } };

export const descriptorOf = (bytes: Uint8Array, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType,
  digest: digestOf(bytes),
  size: bytes.byteLength,
  ...extra,
});

export const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));

export interface ImageParts {
  config: Descriptor;
  layers?: Descriptor[];
  mediaType?: string;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image manifest document (OCI unless `mediaType` says Docker schema 2). */
export function imageManifest(parts: ImageParts): Buffer {
  const { mediaType = mediaTypes.ociManifest, layers = [], ...rest } = parts;
  return json({ schemaVersion: 2, mediaType, ...rest, layers });
}

export function indexManifest(manifests: Descriptor[], extra: Record<string, unknown> = {}): Buffer {
  return json({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests, ...extra });
}

/** The JSON error envelope of the spec, with this exact code. */
export function expectError(res: Reply, status: number, code: string): void {
  expect({ status: res.status, code: errorCode(res) }).toEqual({ status, code });
  const body = res.json<{ errors: Array<{ code: string; message: unknown }> }>();
  expect(typeof body.errors[0]?.message).toBe('string');
}

/** The first error code of a response's envelope, or undefined when the body is no envelope. */
export function errorCode(res: Reply): string | undefined {
  try {
    const body = res.json<{ errors?: Array<{ code?: unknown }> }>();
    const code = body.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Pushes a blob in one POST `?digest=` request; returns its digest. */
export async function pushBlob(client: Client, repo: string, bytes: Uint8Array, algorithm: Algorithm = 'sha256'): Promise<string> {
  const digest = digestOf(bytes, algorithm);
  const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  expect(res.status, res.text()).toBe(201);
  return digest;
}

export function putManifest(client: Client, repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Reply> {
  return client.request('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'Content-Type': mediaType }, body: bytes });
}

export interface PushedManifest {
  bytes: Buffer;
  digest: string;
  descriptor: Descriptor;
  /** The registry's answer to the PUT. */
  reply: Reply;
}

/** PUTs a manifest and expects 201. */
export async function pushManifest(
  client: Client,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string = mediaTypes.ociManifest,
): Promise<PushedManifest> {
  const reply = await putManifest(client, repo, reference, bytes, mediaType);
  expect(reply.status, reply.text()).toBe(201);
  return { bytes, digest: digestOf(bytes), descriptor: descriptorOf(bytes, mediaType), reply };
}

export interface ImageOptions extends Partial<Omit<ImageParts, 'config' | 'layers'>> {
  configMediaType?: string;
  layerMediaType?: string;
  /** Content of the config blob, so two images can differ. */
  configBytes?: Buffer;
}

/** Pushes a config and one layer blob, then an image manifest over them under `reference`. */
export async function pushImage(client: Client, repo: string, reference: string, opts: ImageOptions = {}): Promise<PushedManifest> {
  const {
    configMediaType = mediaTypes.ociConfig,
    layerMediaType = mediaTypes.ociLayer,
    configBytes = json({ architecture: 'amd64', os: 'linux', nonce: blob(8).toString('hex') }),
    ...parts
  } = opts;
  const layer = blob(512);
  await pushBlob(client, repo, configBytes);
  await pushBlob(client, repo, layer);
  const bytes = imageManifest({
    ...parts,
    config: descriptorOf(configBytes, configMediaType),
    layers: [descriptorOf(layer, layerMediaType)],
  });
  return pushManifest(client, repo, reference, bytes, parts.mediaType ?? mediaTypes.ociManifest);
}
