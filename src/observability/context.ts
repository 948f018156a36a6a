import type { Context } from 'hono';
import type { EndpointMatch } from '../oci/endpoints.ts';

/**
 * How a mirror answered (logs and metrics): from its cache, from the upstream, confirmed by the
 * upstream, or from its cache because the upstream could not be asked.
 */
export type Outcome = 'hit' | 'miss' | 'revalidated' | 'stale';

/**
 * Who is asking, as access control found it. Set only when access control is on, so a handler
 * that finds it knows auth is on.
 */
export interface RequestAccess {
  /** The user name or token subject; undefined for anonymous callers. Logged. */
  user?: string | undefined;
  /** Whether the caller may pull repository `name` (the catalog lists only those; mounts link only from those). */
  mayPull(name: string): boolean;
}

/**
 * What the layers serving one request record on its Hono context, for each other and for the
 * request log and metrics. Declared here, below them all, so that access control, the handlers and
 * the log share it without importing one another.
 */
declare module 'hono' {
  interface ContextVariableMap {
    /**
     * The endpoint the path names (src/oci/endpoints.ts): its route pattern (a metric label of
     * bounded cardinality) and the path's parameters, the repository name among them.
     */
    endpoint?: EndpointMatch;
    /**
     * Status and body length of the response, recorded where they are known without reading the
     * response back (a runtime writing natively, bodies held in memory): on Node, reading a
     * response's headers turns the adapter's lightweight response into a full one.
     */
    sent?: { status: number; length: number };
    /** Set by access control on requests it let through. */
    access?: RequestAccess;
    /** Who signed in, where no RequestAccess applies (the token service): for the log. */
    user?: string;
    /** How a mirror answered (`hit`, `miss`, `revalidated`, `stale`), when one took part. */
    upstream?: Outcome;
  }
}

/**
 * A response whose body is held in memory, with its length declared and recorded for the request
 * log and metrics. For every route outside `/v2/` too (health, metrics, tokens).
 */
export function sendBytes(c: Context, status: number, headers: Record<string, string>, body: Uint8Array<ArrayBuffer>): Response {
  c.set('sent', { status, length: body.byteLength });
  return new Response(body, { status, headers: { ...headers, 'Content-Length': String(body.byteLength) } });
}

const utf8 = new TextEncoder();

/** `sendBytes` for a text body. */
export const sendText = (c: Context, status: number, headers: Record<string, string>, text: string): Response =>
  sendBytes(c, status, headers, utf8.encode(text));
