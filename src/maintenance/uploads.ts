import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory } from '../registry/inventory.ts';
import { nothingExpired, sweep } from './sweep.ts';

/** The upload policy: sessions started longer than `maxAgeMs` ago are abandoned. */
export async function staleUploads(inventory: Inventory, maxAgeMs: number, now: number): Promise<string[]> {
  const stale: string[] = [];
  await forEachBounded(await inventory.uploads(), async (id) => {
    const started = await inventory.uploadStarted(id);
    if (started !== undefined && now - started > maxAgeMs) stale.push(id);
  });
  return stale;
}

/** Deletes abandoned upload sessions through the sweep; returns how many went. */
export async function purgeUploads(inventory: Inventory, maxAgeMs: number, opts: { now?: number; signal?: AbortSignal } = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  const expired = { ...nothingExpired(), uploads: await staleUploads(inventory, maxAgeMs, now) };
  const report = await sweep(inventory, expired, undefined, { keepAfter: now, signal: opts.signal });
  return report.uploadsDeleted;
}
