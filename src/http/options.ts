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

/**
 * What a runtime does faster than the portable code, each only where a benchmark showed it pays
 * (bench/, README). Everything works without them.
 */
export interface FastPaths {
  /** Sends part of a local file natively (blob GETs on local disk). */
  sendFile?: FileResponder;
  /**
   * The request body as the runtime's own stream, when that is cheaper than the web stream. Its
   * pieces may share one buffer, each valid until the next is asked for (see Driver.append).
   */
  requestBody?: (c: Context) => AsyncIterable<Uint8Array> | undefined;
}

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
