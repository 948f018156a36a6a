import { createHash, randomBytes as cryptoRandomBytes, randomUUID } from 'node:crypto';
import type { Bytes } from './client.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  octetStream: 'application/octet-stream',
} as const;

/** Every manifest type this suite pushes, for the Accept header of manifest GET/HEAD. */
export const ACCEPT_ALL_MANIFESTS = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(', ');

/** Some bytes with their digest, size and the media type they are pushed as. */
export interface Content {
  bytes: Bytes;
  digest: string;
  size: number;
  mediaType: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

export function utf8(text: string): Bytes {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function content(bytes: Bytes, mediaType: string, algorithm: DigestAlgorithm = 'sha256'): Content {
  return { bytes, digest: digestOf(bytes, algorithm), size: bytes.length, mediaType };
}

export function randomBlob(size: number, algorithm: DigestAlgorithm = 'sha256', mediaType: string = MediaTypes.ociLayer): Content {
  return content(new Uint8Array(cryptoRandomBytes(size)), mediaType, algorithm);
}

/** A short random suffix for tags and repository names. */
export function uniqueId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 10);
}

/** A well-formed digest of random bytes, so nothing in the registry has it. */
export function unknownDigest(algorithm: DigestAlgorithm = 'sha256'): string {
  return digestOf(cryptoRandomBytes(32), algorithm);
}

export function descriptorOf(item: Content, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: item.mediaType, digest: item.digest, size: item.size, ...extra };
}

/** A small OCI image config; random labels keep every config (and so every manifest) unique. */
export function imageConfig(mediaType: string = MediaTypes.ociConfig, algorithm: DigestAlgorithm = 'sha256'): Content {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'conformance.id': uniqueId() } },
    rootfs: { type: 'layers', diff_ids: [] as string[] },
  };
  return content(utf8(JSON.stringify(config)), mediaType, algorithm);
}

/** The empty config of artifacts (image-spec: "Guidance for an Empty Descriptor"). */
export function emptyConfig(): Content {
  return content(utf8('{}'), MediaTypes.ociEmpty);
}

export interface ImageManifestOptions {
  config: Content;
  layers: Content[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  algorithm?: DigestAlgorithm;
}

export function imageManifest(options: ImageManifestOptions): Content {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: descriptorOf(options.config),
    layers: options.layers.map((layer) => descriptorOf(layer)),
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return content(utf8(JSON.stringify(manifest)), MediaTypes.ociManifest, options.algorithm);
}

export interface ImageIndexOptions {
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function imageIndex(options: ImageIndexOptions): Content {
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    manifests: options.manifests,
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return content(utf8(JSON.stringify(index)), MediaTypes.ociIndex);
}

export function dockerManifest(config: Content, layers: Content[]): Content {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: descriptorOf(config),
    layers: layers.map((layer) => descriptorOf(layer)),
  };
  return content(utf8(JSON.stringify(manifest)), MediaTypes.dockerManifest);
}

export function dockerManifestList(manifests: Descriptor[]): Content {
  const list = { schemaVersion: 2, mediaType: MediaTypes.dockerManifestList, manifests };
  return content(utf8(JSON.stringify(list)), MediaTypes.dockerManifestList);
}

/**
 * An image manifest padded with one large annotation to exactly `targetSize` bytes, for the
 * manifest size limit (spec: Pushing Manifests — registries SHOULD accept at least 4 MiB).
 */
export function manifestOfSize(config: Content, layers: Content[], targetSize: number): Content {
  const base = imageManifest({ config, layers, annotations: { 'conformance.padding': '' } });
  const padding = 'x'.repeat(Math.max(0, targetSize - base.size));
  const padded = imageManifest({ config, layers, annotations: { 'conformance.padding': padding } });
  if (padded.size !== targetSize) throw new Error(`padded manifest is ${padded.size} bytes, wanted ${targetSize}`);
  return padded;
}
