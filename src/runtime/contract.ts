/**
 * What a runtime provides to berth: the one contract between `src/` and `runtimes/{node,bun,deno}.ts`.
 * The core owns the type and never reads a runtime's own objects; each runtime implements it at
 * the edge, the way Hono's adapters implement `getConnInfo` for Hono's core.
 */
import type { Context, Hono } from 'hono';
import type { Duration } from '../config/duration.ts';
import type { Logger } from '../observability/log.ts';

export interface ListenAddress {
  hostname: string;
  port: number;
}

/**
 * How long a connection may keep berth waiting; 0 is no limit. Every limit is on
 * silence, never on total time: an upload that keeps sending is never cut, however long it takes.
 * (`server.*` in the configuration; what each runtime can and cannot enforce: runtimes/README.md.)
 */
export interface ConnectionLimits {
  /** A keep-alive connection with no request under way is closed after this long. */
  idle: Duration;
  /** The time a new request's headers may take to arrive. */
  headers: Duration;
  /** A request body that sends nothing for this long, while berth waits for it, is cut. */
  bodyIdle: Duration;
}

export interface ServeOptions extends ListenAddress {
  limits: ConnectionLimits;
  /** For what happens at the connection level: refused accepts, cut connections. */
  logger: Logger;
}

export interface RunningServer {
  /** Where it actually listens (port 0 is resolved). */
  address: ListenAddress;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

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

/** What a stat of a local file says, as far as storage needs it. */
export interface FileStat {
  isFile: boolean;
  size: number;
  mtime: Date;
}

/**
 * A runtime's own synchronous stat of a local file, where it is cheaper than node:fs's: undefined
 * when nothing is there (ENOENT, ENOTDIR); other failures throw with the system's error code in
 * `code` (EACCES, EIO, ...), as node:fs's do.
 */
export type StatSync = (path: string) => FileStat | undefined;

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
  /** Stats local files on the event loop (local-disk storage: a blob HEAD stats a link and the bytes). */
  statSync?: StatSync;
}

export interface Runtime {
  name: string;
  /** Serves the app on an address, enforcing the connection limits. */
  serve(app: Hono, options: ServeOptions): Promise<RunningServer>;
  /** The address of the client that sent the request being served, as the runtime saw it. */
  clientAddress(c: Context): string | undefined;
  fastPaths?: FastPaths;
  env: Record<string, string | undefined>;
  /** Registers a handler for SIGINT and SIGTERM. */
  onSignal(handler: (signal: string) => void): void;
}

/**
 * The part of a runtime the app itself asks for while serving a request; `createRegistry` takes
 * it. A library user mounting berth in their own server may pass their adapter's equivalents.
 */
export type RequestEdge = Partial<Pick<Runtime, 'clientAddress' | 'fastPaths'>>;
