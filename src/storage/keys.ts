import { StorageError } from './errors.ts';

const invalid = (key: string): StorageError => new StorageError('invalid', `invalid storage key: ${key}`);

/**
 * Guards the one promise every driver relies on: a key is a relative path of plain segments.
 * The registry builds keys only from validated names and digests; this is the second lock.
 */
export function assertKey(key: string): string {
  if (key.length === 0 || key.startsWith('/') || key.endsWith('/')) throw invalid(key);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..' || /[\\\0]/.test(segment)) throw invalid(key);
  }
  return key;
}
