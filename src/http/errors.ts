import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isOciError, OciError } from '../oci/errors.ts';

/** Writes the spec's error envelope for `e`; a HEAD response keeps the status and headers, not the body. */
export function errorResponse(c: Context, e: OciError): Response {
  const headers: Record<string, string> = { ...e.headers };
  if (c.req.method === 'HEAD') return new Response(null, { status: e.status, headers });
  headers['Content-Type'] = 'application/json; charset=utf-8';
  return new Response(JSON.stringify(e.toJSON()), { status: e.status, headers });
}

/** Maps anything thrown by a handler to a response. Only a bug reaches the 500 branch. */
export function toOciError(err: unknown): OciError {
  if (isOciError(err)) return err;
  if (err instanceof HTTPException) {
    return new OciError(err.status >= 500 ? 'UNAVAILABLE' : 'UNSUPPORTED', err.message || 'request rejected', {
      status: err.status,
    });
  }
  return new OciError('UNKNOWN', 'internal server error');
}
