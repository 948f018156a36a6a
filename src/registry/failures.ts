import { isOciError, OciError } from '../oci/errors.ts';
import { isStorageError, type StorageError } from '../storage/errors.ts';

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

/**
 * What a failure means in the spec's words: an OciError as it is, a storage failure mapped, and
 * undefined for anything else (a bug). For every surface that answers clients: the API, the UI.
 */
export const asOciError = (e: unknown): OciError | undefined => (isOciError(e) ? e : isStorageError(e) ? storageFailure(e) : undefined);
