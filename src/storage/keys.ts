/**
 * Guards the one promise every driver relies on: a key is a relative path of plain segments.
 * The registry builds keys only from validated names and digests; this is the second lock.
 */
export function assertKey(key: string): string {
  if (key.length === 0 || key.startsWith('/') || key.endsWith('/')) throw new Error(`invalid storage key: ${key}`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..' || /[\\\0]/.test(segment)) {
      throw new Error(`invalid storage key: ${key}`);
    }
  }
  return key;
}
