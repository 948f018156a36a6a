import type { Context } from 'hono';
import { sendBytes } from '../observability/context.ts';
import { warningValue } from '../oci/warning.ts';

/** The header every /v2/ response carries (spec: API Version Check). */
export const apiVersionHeader = 'Docker-Distribution-API-Version';
export const apiVersion = { [apiVersionHeader]: 'registry/2.0' } as const;

// Responses are built with plain header objects, the API version included, and never changed
// afterwards: @hono/node-server writes such a response straight to the socket, while touching its
// headers later turns it into a full web Response (measured: a third of a manifest GET's cost).

/**
 * A response with no body. 201/202 say `Content-Length: 0` so they are not sent chunked; 204 and
 * 304 must not carry the header at all.
 */
export function empty(status: number, headers: Record<string, string> = {}): Response {
  const h: Record<string, string> = { ...apiVersion, ...headers };
  if (status !== 204 && status !== 304) h['Content-Length'] = '0';
  return new Response(null, { status, headers: h });
}

/** A response whose body is held in memory, its length recorded for the request metrics. */
export function bytes(c: Context, status: number, headers: Record<string, string>, body: Uint8Array<ArrayBuffer>): Response {
  return sendBytes(c, status, { ...apiVersion, ...headers }, body);
}

const utf8 = new TextEncoder();

/** A 200 with a JSON body. */
export function json(c: Context, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): Response {
  return bytes(c, 200, { 'Content-Type': contentType, ...headers }, utf8.encode(JSON.stringify(body)));
}

/**
 * The `Warning` of an answer served from a mirror's cache because its upstream could not confirm
 * it, in the spec's form (`299 - "..."`, src/oci/warning.ts).
 */
export const staleWarning = (reason: string): string => warningValue(`Response is stale: ${reason}`);
