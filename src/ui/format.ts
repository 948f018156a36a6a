/** How the pages write sizes, times, digests and media types for people. */

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** `sha256:0123456789ab` — enough to tell digests apart on a page, the full one is in the link. */
export const shortDigest = (digest: string): string => {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, 19) : `${digest.slice(0, colon)}:${digest.slice(colon + 1, colon + 13)}`;
};

export function formatAge(at: Date, now = Date.now()): string {
  const s = Math.round((now - at.getTime()) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Seconds as a person writes them: 300 → "5m", 86400 → "1d". */
export function formatSeconds(s: number): string {
  if (s === 0) return '0';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (s % size === 0) return `${s / size}${unit}`;
  return `${s}s`;
}

const labels: Record<string, string> = {
  'application/vnd.oci.image.manifest.v1+json': 'OCI image',
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.oci.image.config.v1+json': 'OCI image config',
  'application/vnd.docker.container.image.v1+json': 'Docker image config',
  'application/vnd.oci.image.layer.v1.tar': 'layer (tar)',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'layer (tar+gzip)',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'layer (tar+zstd)',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'layer (tar+gzip)',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'foreign layer (tar+gzip)',
  'application/vnd.oci.empty.v1+json': 'empty',
};

/** A short name for a well-known media type; anything else is shown as it is. */
export const mediaTypeLabel = (mediaType: string): string => labels[mediaType] ?? mediaType;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

export const formatPlatform = (p: Platform): string => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}${p.osVersion ? ` (${p.osVersion})` : ''}`;

export type ReferrerKind = 'signature' | 'sbom' | 'attestation' | 'other';

const sbomTypes = /spdx|cyclonedx|syft|sbom/i;
// Sigstore bundles hold a signature or an attestation; cosign signs with them, so they group with signatures.
const signatureTypes = /signature|cosign\.artifact\.sig|\.sig\.|notary|sigstore\.bundle/i;
const attestationTypes = /in-toto|intoto|attestation|provenance|slsa|vex/i;

/** What an artifact type is, for grouping referrers: signatures, SBOMs, attestations, the rest. */
export function referrerKind(artifactType: string | undefined): ReferrerKind {
  if (!artifactType) return 'other';
  if (signatureTypes.test(artifactType)) return 'signature';
  if (sbomTypes.test(artifactType)) return 'sbom';
  if (attestationTypes.test(artifactType)) return 'attestation';
  return 'other';
}
