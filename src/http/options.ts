import type { FastPaths } from '../runtime/contract.ts';

/** The HTTP layer's share of the configuration. */
export interface HttpOptions {
  /** Which deletes are allowed; a disabled one answers 405 UNSUPPORTED. */
  delete: { blobs: boolean; manifests: boolean; tags: boolean };
  /** Manifests above this many bytes are refused with 413. */
  maxManifestBytes: number;
  /** Advertised in `OCI-Chunk-Min-Length` when an upload starts. */
  chunkMinLength: number;
  fastPaths: FastPaths;
}
