import { isStorageError, StorageError, type StorageErrorKind } from '../errors.ts';

const codeOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

export const isNotFound = (e: unknown): boolean => {
  const code = codeOf(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** The operating system's error codes by what they mean for a registry, and what a client may read. */
const meanings: Record<string, [StorageErrorKind, string]> = {
  ENOSPC: ['full', 'no space left on device'],
  EDQUOT: ['full', 'disk quota exceeded'],
  EFBIG: ['full', 'file size limit reached'],
  EACCES: ['denied', 'permission denied'],
  EPERM: ['denied', 'operation not permitted'],
  EROFS: ['denied', 'read-only file system'],
  EIO: ['unavailable', 'input/output error'],
  EMFILE: ['unavailable', 'too many open files'],
  ENFILE: ['unavailable', 'too many open files'],
  EAGAIN: ['unavailable', 'resource temporarily unavailable'],
  EBUSY: ['unavailable', 'device busy'],
  ENOMEM: ['unavailable', 'out of memory'],
  ESTALE: ['unavailable', 'stale file handle'],
  ETIMEDOUT: ['timeout', 'timed out'],
  ENOENT: ['missing', 'no such object'],
  ENOTDIR: ['missing', 'no such object'],
};

/**
 * What a `node:fs` failure means, as a StorageError. `what` names the operation and key for the
 * log; the OS's message (which holds the path) stays in the detail.
 */
export function fsError(e: unknown, what: string): StorageError {
  if (isStorageError(e)) return e;
  const code = codeOf(e);
  const meaning = code === undefined ? undefined : meanings[code];
  const message = e instanceof Error ? e.message : String(e);
  // Deno words it "No space left on device (os error 28)": the code keeps log searches uniform.
  const detail = code === undefined || message.includes(code) ? message : `${message} (${code})`;
  return new StorageError(meaning?.[0] ?? 'failed', `${what}: ${detail}`, { cause: e, ...(meaning ? { reason: meaning[1] } : {}) });
}
