import { randomBytes } from 'node:crypto';
import type { Bucket } from './bucket.ts';

/**
 * Many replicas share one bucket safely only because an upload's steps are written create-only
 * (`If-None-Match: *`, append-state.ts): of two replicas appending at one offset, exactly one gets
 * the key. A store that ignores the header lets both "win" and mixes their bytes. So before serving,
 * berth writes a probe object twice, create-only: the second write must be refused.
 */
export async function requireConditionalCreate(bucket: Bucket): Promise<void> {
  const key = `_probe/conditional-create-${randomBytes(8).toString('hex')}`;
  const missing = (what: string): Error =>
    new Error(
      `the store does not support conditional writes (PUT with If-None-Match: *): ${what}. berth needs them so that replicas ` +
        'sharing the bucket never overwrite each other\'s upload state; use a store that supports them (see "Many replicas on S3" in the README)',
    );
  try {
    let first: boolean;
    try {
      first = await bucket.put(key, new Uint8Array([1]), { ifAbsent: true });
    } catch (e) {
      // Stores without the feature refuse the header outright (501 NotImplemented, 400).
      const status = (e as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause?.$metadata?.httpStatusCode;
      if (status === 501 || status === 400) throw missing(`it refused the header (HTTP ${status})`);
      throw e;
    }
    if (!first) throw missing('a create-only write of a new key was refused');
    if (await bucket.put(key, new Uint8Array([2]), { ifAbsent: true })) throw missing('a second create-only write of the same key replaced the first');
  } finally {
    await bucket.delete(key).catch(() => undefined);
  }
}
