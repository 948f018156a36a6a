/**
 * What the pages show of a manifest or an image config, read leniently from stored bytes: the
 * registry checked the structure at push time, but fields it does not need (platforms, config
 * contents) can be anything, so each is taken only when it has the expected type.
 */
import { manifestKind } from '../oci/media-types.ts';
import type { Platform } from './format.ts';

export interface DescriptorView {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations: Array<[string, string]>;
  platform?: Platform;
  /** Non-distributable layers live at these URLs, not in the registry. */
  urls: string[];
}

export interface ManifestView {
  kind: 'image' | 'index';
  mediaType: string;
  artifactType?: string;
  config?: DescriptorView;
  layers: DescriptorView[];
  manifests: DescriptorView[];
  subject?: DescriptorView;
  annotations: Array<[string, string]>;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** String pairs of a JSON map, sorted by key; anything that is not a string is left out. */
export function stringPairs(v: unknown): Array<[string, string]> {
  if (!isObject(v)) return [];
  return Object.entries(v)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function platformOf(v: unknown): Platform | undefined {
  if (!isObject(v)) return undefined;
  const os = str(v.os);
  const architecture = str(v.architecture);
  if (os === undefined || architecture === undefined) return undefined;
  const p: Platform = { os, architecture };
  const variant = str(v.variant);
  if (variant) p.variant = variant;
  const osVersion = str(v['os.version']);
  if (osVersion) p.osVersion = osVersion;
  return p;
}

function descriptorOf(v: unknown): DescriptorView | undefined {
  if (!isObject(v)) return undefined;
  const mediaType = str(v.mediaType);
  const digest = str(v.digest);
  if (mediaType === undefined || digest === undefined || !digestRe.test(digest)) return undefined;
  const size = typeof v.size === 'number' && Number.isSafeInteger(v.size) && v.size >= 0 ? v.size : 0;
  const d: DescriptorView = { mediaType, digest, size, annotations: stringPairs(v.annotations), urls: [] };
  const artifactType = str(v.artifactType);
  if (artifactType !== undefined) d.artifactType = artifactType;
  const platform = platformOf(v.platform);
  if (platform) d.platform = platform;
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  return d;
}

const descriptors = (v: unknown): DescriptorView[] => (Array.isArray(v) ? v.map(descriptorOf).filter((d): d is DescriptorView => d !== undefined) : []);

const decoder = new TextDecoder();

export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/** The manifest's view, or undefined when the bytes are not a manifest of a type berth stores. */
export function manifestView(bytes: Uint8Array, storedType: string): ManifestView | undefined {
  const doc = parseJson(bytes);
  if (!isObject(doc)) return undefined;
  const mediaType = storedType || str(doc.mediaType) || '';
  const kind = manifestKind(mediaType);
  if (!kind) return undefined;
  const view: ManifestView = { kind, mediaType, layers: [], manifests: [], annotations: stringPairs(doc.annotations) };
  const config = descriptorOf(doc.config);
  if (kind === 'image') {
    if (config) view.config = config;
    view.layers = descriptors(doc.layers);
  } else {
    view.manifests = descriptors(doc.manifests);
  }
  const artifactType = str(doc.artifactType) ?? (kind === 'image' ? config?.mediaType : undefined);
  if (artifactType !== undefined) view.artifactType = artifactType;
  const subject = descriptorOf(doc.subject);
  if (subject) view.subject = subject;
  return view;
}

/** Bytes an image takes in the registry: its manifest, config and layers (non-distributable ones excluded). */
export const imageBytes = (manifestSize: number, view: ManifestView): number =>
  manifestSize + (view.config?.size ?? 0) + view.layers.reduce((n, l) => n + (l.urls.length > 0 ? 0 : l.size), 0);

/** Index entries that are platforms, not buildkit's attestation manifests (`unknown/unknown`). */
export const platformEntries = (view: ManifestView): DescriptorView[] =>
  view.manifests.filter((m) => m.platform !== undefined && !(m.platform.os === 'unknown' && m.platform.architecture === 'unknown'));

export interface ConfigView {
  platform?: Platform;
  created?: string;
  author?: string;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
  env: string[];
  exposedPorts: string[];
  labels: Array<[string, string]>;
  /** Entries of the image's history (one per build step). */
  history: number;
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : undefined);

/** An image config's summary (OCI image config / Docker container image); undefined when the bytes are no JSON object. */
export function configView(bytes: Uint8Array): ConfigView | undefined {
  const doc = parseJson(bytes);
  if (!isObject(doc)) return undefined;
  const inner = isObject(doc.config) ? doc.config : {};
  const nonEmpty = (v: unknown): string | undefined => str(v) || undefined;
  return {
    platform: platformOf(doc),
    created: nonEmpty(doc.created),
    author: nonEmpty(doc.author),
    entrypoint: strings(inner.Entrypoint),
    cmd: strings(inner.Cmd),
    workingDir: nonEmpty(inner.WorkingDir),
    user: nonEmpty(inner.User),
    env: strings(inner.Env) ?? [],
    exposedPorts: isObject(inner.ExposedPorts) ? Object.keys(inner.ExposedPorts).sort() : [],
    labels: stringPairs(inner.Labels),
    history: Array.isArray(doc.history) ? doc.history.length : 0,
  };
}

/** The document pretty-printed, or the bytes as text when they are not JSON. */
export function prettyJson(bytes: Uint8Array): string {
  const doc = parseJson(bytes);
  return doc === undefined ? decoder.decode(bytes) : JSON.stringify(doc, null, 2);
}

const imageConfigTypes = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** The artifact type of a manifest that is not a container image (a signature, an SBOM, a chart), else undefined. */
export const artifactOf = (view: ManifestView | undefined): string | undefined =>
  view?.artifactType !== undefined && !imageConfigTypes.has(view.artifactType) ? view.artifactType : undefined;
