import { parseDigest, type Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { manifestKind, mediaTypes, type ManifestKind } from './media-types.ts';
import { parseStrictJson } from './strict-json.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** What the registry needs to know about a manifest to store it, check it and index it. */
export interface ManifestInfo {
  mediaType: string;
  kind: ManifestKind;
  /** Blobs that must already be in the repository (config and distributable layers). */
  blobs: Array<{ digest: Digest; size: number }>;
  /** Manifests an index points at, which must already be in the repository. */
  manifests: Array<{ digest: Digest; size: number }>;
  subject?: Descriptor & { parsed: Digest };
  /** The manifest's `artifactType`, else its config's media type (the referrers API's rule). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (message: string, detail?: unknown): OciError =>
  new OciError('MANIFEST_INVALID', message, detail === undefined ? {} : { detail });

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalid(`${where}: annotations must be a map of strings`);
  }
  return v as Record<string, string>;
}

/** `layers[12]`: built only for an error message, as a manifest may hold tens of thousands. */
const label = (where: string, index: number | undefined): string => (index === undefined ? where : `${where}[${index}]`);

function descriptor(v: unknown, where: string, index?: number): Descriptor & { parsed: Digest } {
  if (!isObject(v)) throw invalid(`${label(where, index)}: descriptor must be an object`);
  const { mediaType, digest, size, artifactType, urls } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${label(where, index)}: mediaType is required`);
  if (typeof digest !== 'string') throw invalid(`${label(where, index)}: digest is required`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${label(where, index)}: size must be a non-negative integer`);
  }
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (e) {
    throw invalid(`${label(where, index)}: ${e instanceof Error ? e.message : 'invalid digest'}`, { digest });
  }
  if (artifactType !== undefined && typeof artifactType !== 'string') throw invalid(`${label(where, index)}: artifactType must be a string`);
  if (urls !== undefined && (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))) {
    throw invalid(`${label(where, index)}: urls must be an array of strings`);
  }
  const d: Descriptor & { parsed: Digest } = { mediaType, digest, size, parsed };
  if (artifactType !== undefined) d.artifactType = artifactType;
  const annotations = v.annotations === undefined ? undefined : stringMap(v.annotations, label(where, index));
  if (annotations) d.annotations = annotations;
  if (urls !== undefined) d.urls = urls as string[];
  return d;
}

/** A descriptor from untrusted JSON, checked as a manifest's are (throws MANIFEST_INVALID). */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  const { parsed: _parsed, ...d } = descriptor(v, where);
  return d;
}

/**
 * Each descriptor of a list, checked one at a time as the caller consumes them: a manifest of tens of
 * thousands of layers costs one parsed document, not a second list of every descriptor.
 */
function* descriptors(v: unknown, where: string): Generator<Descriptor & { parsed: Digest }> {
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  for (let i = 0; i < v.length; i++) yield descriptor(v[i], where, i);
}

/**
 * Parses a manifest body and checks its structure. `contentType` is the request's media type;
 * when the body names its own `mediaType` the two must agree (spec: Pushing Manifests).
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ManifestInfo {
  const parsed = parseStrictJson(bytes);
  if (!parsed.ok) throw invalid(`manifest ${parsed.problem}`);
  const doc = parsed.value;
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  if (doc.schemaVersion !== 2) {
    throw invalid('unsupported manifest schemaVersion: only schemaVersion 2 is accepted', {
      schemaVersion: doc.schemaVersion ?? null,
    });
  }
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  const requested = contentType && manifestKind(contentType) ? contentType : undefined;
  if (declared !== undefined && requested !== undefined && declared !== requested) {
    throw invalid('manifest mediaType does not match the Content-Type header', { mediaType: declared, contentType });
  }
  const mediaType = requested ?? declared ?? (Array.isArray(doc.manifests) ? mediaTypes.ociIndex : mediaTypes.ociManifest);
  const kind = manifestKind(mediaType);
  if (!kind) {
    throw invalid(`unsupported manifest media type: ${mediaType}`, { supported: Object.values(mediaTypes).slice(0, 4) });
  }
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') throw invalid('artifactType must be a string');

  const info: ManifestInfo = { mediaType, kind, blobs: [], manifests: [] };
  if (kind === 'image') {
    const config = descriptor(doc.config, 'config');
    info.blobs.push({ digest: config.parsed, size: config.size });
    const layers = doc.layers === undefined && mediaType === mediaTypes.ociManifest ? [] : descriptors(doc.layers, 'layers');
    for (const layer of layers) {
      // Non-distributable layers (with `urls`) live elsewhere; the registry need not hold them.
      if (layer.urls && layer.urls.length > 0) continue;
      info.blobs.push({ digest: layer.parsed, size: layer.size });
    }
    const artifactType = (doc.artifactType as string | undefined) ?? config.mediaType;
    info.artifactType = artifactType;
  } else {
    for (const m of descriptors(doc.manifests, 'manifests')) info.manifests.push({ digest: m.parsed, size: m.size });
    if (typeof doc.artifactType === 'string') info.artifactType = doc.artifactType;
  }
  if (doc.subject !== undefined) info.subject = descriptor(doc.subject, 'subject');
  const annotations = stringMap(doc.annotations, 'manifest');
  if (annotations) info.annotations = annotations;
  return info;
}
