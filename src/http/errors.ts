import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isOciError, OciError } from '../oci/errors.ts';
import { isStorageError, type StorageError } from '../storage/errors.ts';
import { apiVersion, bytes } from './responses.ts';

/** Writes the spec's error envelope for `e`; a HEAD response keeps the status and headers, not the body. */
export function errorResponse(c: Context, e: OciError): Response {
  const headers: Record<string, string> = { ...apiVersion, ...e.headers };
  if (c.req.method === 'HEAD') return new Response(null, { status: e.status, headers });
  return bytes(c, e.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, utf8.encode(JSON.stringify(e.toJSON())));
}

const utf8 = new TextEncoder();

/** Seconds a client should wait before trying again after storage failed for now. */
const retryAfter = { 'Retry-After': '10' };

/**
 * The one place storage failures become the spec's errors. The client learns what happened,
 * never where: the StorageError's message (keys, paths, hosts) stays in the log.
 */
export function storageFailure(e: StorageError): OciError {
  const because = e.reason ? `: ${e.reason}` : '';
  switch (e.kind) {
    case 'unavailable':
      return new OciError('UNAVAILABLE', `storage is unavailable${because}; try again later`, { headers: retryAfter });
    case 'timeout':
      return new OciError('UNAVAILABLE', 'storage did not answer in time; try again later', { headers: retryAfter });
    case 'full':
      // RFC 4918's 507: the request may be fine, the server cannot store it.
      return new OciError('UNAVAILABLE', `storage is full${because}`, { status: 507 });
    case 'denied':
      return new OciError('UNAVAILABLE', `storage refused access${because}; the registry's storage settings need attention`);
    case 'limit':
      return new OciError('BLOB_UPLOAD_INVALID', `the blob is too large for this registry's storage${because}`, { status: 413 });
    case 'conflict':
    case 'missing':
      // Another request changed what this one was working on (the upload path answers its own).
      return new OciError('UNAVAILABLE', 'storage changed during the request; try again', { headers: { 'Retry-After': '1' } });
    case 'corrupt':
      return new OciError('UNKNOWN', 'storage holds data the registry cannot read');
    case 'invalid':
    case 'failed':
      return new OciError('UNKNOWN', 'storage failed');
  }
}

/** Maps anything thrown by a handler to a response. Only a bug reaches the 500 branch. */
export function toOciError(err: unknown): OciError {
  if (isOciError(err)) return err;
  if (isStorageError(err)) return storageFailure(err);
  if (err instanceof HTTPException) {
    return new OciError(err.status >= 500 ? 'UNAVAILABLE' : 'UNSUPPORTED', err.message || 'request rejected', {
      status: err.status,
    });
  }
  return new OciError('UNKNOWN', 'internal server error');
}
