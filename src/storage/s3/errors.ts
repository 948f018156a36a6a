import { isOciError, OciError } from '../../oci/errors.ts';

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

const busy = new Set(['SlowDown', 'ServiceUnavailable', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'TimeoutError', 'InternalError']);

function reason(e: unknown): string {
  const { name, code, message, $metadata } = shape(e);
  const label = [name && name !== 'Error' ? name : undefined, code].filter(Boolean).join('/');
  const status = $metadata?.httpStatusCode ? ` (HTTP ${$metadata.httpStatusCode})` : '';
  const attempts = ($metadata?.attempts ?? 0) > 1 ? ` after ${$metadata?.attempts} attempts` : '';
  const text = message && message !== name ? message : '';
  return `${label}${label && text ? ': ' : ''}${text}${status}${attempts}` || String(e);
}

/**
 * Turns what the SDK threw into the error a client should see: S3 down, unreachable or throttling
 * past our retries is a 503 (try again later); refused credentials or a missing bucket are a 500
 * that names the cause, for the operator reading the log. `what` says which request failed.
 */
export function storageError(e: unknown, what: string): OciError {
  if (isOciError(e)) return e;
  const { name = '' } = shape(e);
  const status = statusOf(e);
  let error: OciError;
  if (status === 403 || denied.has(name)) {
    error = new OciError('UNKNOWN', `storage refused ${what}: access denied (${reason(e)}); check the S3 credentials and bucket policy`);
  } else if (name === 'CredentialsProviderError') {
    error = new OciError('UNKNOWN', `storage refused ${what}: no S3 credentials found (set storage.s3.accessKeyId and secretAccessKey, or the SDK's environment, profile or role)`);
  } else if (name === 'NoSuchBucket') {
    error = new OciError('UNKNOWN', `storage failed ${what}: the bucket does not exist`);
  } else if (status === undefined || status >= 500 || status === 429 || busy.has(name)) {
    error = new OciError('UNAVAILABLE', `storage unavailable: ${what} failed (${reason(e)})`);
  } else {
    error = new OciError('UNKNOWN', `storage failed ${what}: ${reason(e)}`);
  }
  Object.defineProperty(error, 'cause', { value: e, enumerable: false });
  return error;
}
