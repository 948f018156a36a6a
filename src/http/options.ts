import type { Context } from 'hono';

/** An inclusive byte range of a file on the local disk. */
export interface FileRange {
  path: string;
  start: number;
  end: number;
}

/**
 * A runtime's native way to send part of a local file (Bun.file, Deno's file streams, Node's
 * fs streams piped into the socket). Returns undefined to let the portable path serve it.
 */
export type FileResponder = (c: Context, file: FileRange, init: { status: number; headers: Record<string, string> }) => Promise<Response | undefined>;

/** The HTTP layer's share of the configuration. */
export interface HttpOptions {
  /** Which deletes are allowed; a disabled one answers 405 UNSUPPORTED. */
  delete: { blobs: boolean; manifests: boolean; tags: boolean };
  /** Manifests above this many bytes are refused with 413. */
  maxManifestBytes: number;
  /** Advertised in `OCI-Chunk-Min-Length` when an upload starts. */
  chunkMinLength: number;
  fileResponder?: FileResponder | undefined;
}
