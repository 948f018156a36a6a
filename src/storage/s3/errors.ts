import { isStorageError, StorageError, type StorageErrorKind } from '../errors.ts';

/** The parts of an SDK error we look at; anything may be thrown, so every field is optional. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const shape = (e: unknown): SdkErrorShape => (typeof e === 'object' && e !== null ? (e as SdkErrorShape) : {});

const statusOf = (e: unknown): number | undefined => shape(e).$metadata?.httpStatusCode;

/** A missing object (GET's NoSuchKey, HEAD's bare 404). A missing bucket is not this. */
export const isNotFound = (e: unknown): boolean => {
  const { name } = shape(e);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(e) === 404 && name !== 'NoSuchBucket');
};

/**
 * A create-only write (`If-None-Match: *`) that found the key taken. AWS answers 409 while another
 * conditional write to the key is still in flight; either way the caller did not get the key.
 */
export const isPreconditionFailed = (e: unknown): boolean => {
  const { name } = shape(e);
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || statusOf(e) === 412 || statusOf(e) === 409;
};

export const isInvalidRange = (e: unknown): boolean => shape(e).name === 'InvalidRange' || statusOf(e) === 416;

const denied = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidToken',
  'SignatureDoesNotMatch',
]);

/** Ceph's bucket and user quotas, MinIO's full drives and bucket quotas. */
const full = new Set(['QuotaExceeded', 'XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded']);

const busy = new Set(['SlowDown', 'ServiceUnavailable', 'Throttling', 'ThrottlingException', 'InternalError']);

/** The SDK's names for an attempt that ran out of time (ours: storage.s3.requestTimeout) and for our deadline's abort. */
const timedOut = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException']);

function reason(e: unknown): string {
  const { name, code, message, $metadata } = shape(e);
  const label = [name && name !== 'Error' ? name : undefined, code].filter(Boolean).join('/');
  const status = $metadata?.httpStatusCode ? ` (HTTP ${$metadata.httpStatusCode})` : '';
  const attempts = ($metadata?.attempts ?? 0) > 1 ? ` after ${$metadata?.attempts} attempts` : '';
  const text = message && message !== name ? message : '';
  return `${label}${label && text ? ': ' : ''}${text}${status}${attempts}` || String(e);
}

/** Connections cut or refused: the SDK names a reset `TimeoutError` too, but it is no slowness. */
const cut = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function kindOf(e: unknown): [StorageErrorKind, string | undefined] {
  const { name = '', code = '' } = shape(e);
  const status = statusOf(e);
  if (full.has(name) || status === 507) return ['full', 'quota exceeded'];
  if (status === 403 || denied.has(name) || name === 'CredentialsProviderError') return ['denied', undefined];
  if (cut.has(code)) return ['unavailable', undefined];
  if (timedOut.has(name)) return ['timeout', undefined];
  if (name === 'NoSuchBucket') return ['unavailable', undefined];
  if (status === undefined || status >= 500 || status === 429 || busy.has(name)) return ['unavailable', undefined];
  return ['failed', undefined];
}

/**
 * What the SDK threw, as a StorageError whose detail says which request failed and why (for the
 * log: it names the bucket, key and endpoint). S3 down, unreachable or throttling past the
 * retries is `unavailable`; out of time is `timeout`; refused credentials are `denied`.
 */
export function storageError(e: unknown, what: string): StorageError {
  if (isStorageError(e)) return e;
  const [kind, why] = kindOf(e);
  const hint =
    shape(e).name === 'CredentialsProviderError'
      ? 'no S3 credentials found (set storage.s3.accessKeyId and secretAccessKey, or the SDK\'s environment, profile or role)'
      : kind === 'denied'
        ? `access denied (${reason(e)}); check the S3 credentials and bucket policy`
        : shape(e).name === 'NoSuchBucket'
          ? 'the bucket does not exist'
          : reason(e);
  return new StorageError(kind, `S3 ${what} failed: ${hint}`, { cause: e, ...(why ? { reason: why } : {}) });
}
