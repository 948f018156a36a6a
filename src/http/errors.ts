import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { OciError } from '../oci/errors.ts';
import { asOciError } from '../registry/failures.ts';
import { apiVersion, bytes } from './responses.ts';

/** Writes the spec's error envelope for `e`; a HEAD response keeps the status and headers, not the body. */
export function errorResponse(c: Context, e: OciError): Response {
  const headers: Record<string, string> = { ...apiVersion, ...e.headers };
  if (c.req.method === 'HEAD') return new Response(null, { status: e.status, headers });
  return bytes(c, e.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, utf8.encode(JSON.stringify(e.toJSON())));
}

const utf8 = new TextEncoder();

/** Maps anything thrown by a handler to a response (storage failures: registry/failures.ts). Only a bug reaches the 500 branch. */
export function toOciError(err: unknown): OciError {
  const known = asOciError(err);
  if (known) return known;
  if (err instanceof HTTPException) {
    return new OciError(err.status >= 500 ? 'UNAVAILABLE' : 'UNSUPPORTED', err.message || 'request rejected', {
      status: err.status,
    });
  }
  return new OciError('UNKNOWN', 'internal server error');
}
