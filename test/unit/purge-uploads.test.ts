/**
 * Purging stale upload sessions must not take one being created: berth gc ran beside 8 pushing
 * clients on Bun and a POST failed with 500, because a session whose `info` was not written yet was
 * judged to have started at the epoch.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { purgeUploads } from '../../src/maintenance/uploads.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import { layout } from '../../src/registry/layout.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';

const day = 86_400_000;
let dir: string;
let driver: FsDriver;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-purge-'));
  driver = new FsDriver(dir);
  await driver.init();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (key: string): Promise<boolean> => stat(join(dir, key)).then(() => true, () => false);
const id = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;

async function* nothing(): AsyncGenerator<Uint8Array> {}

it('keeps a session being created (no info yet), purges one that started long ago', async () => {
  // Being created: its directory exists, its info is not there yet (fs: mkdir before the rename).
  await mkdir(join(dir, layout.upload(id(1))), { recursive: true });
  // Being created a step later on a driver that writes the data first, or whose info write failed.
  await driver.append(layout.uploadData(id(2)), 0, nothing());
  // Stale: started two days ago.
  await driver.put(layout.uploadInfo(id(3)), JSON.stringify({ name: 'app', algorithm: 'sha256', startedAt: new Date(Date.now() - 2 * day).toISOString() }));

  expect(await purgeUploads(new StoredRegistry(driver).inventory, day)).toBe(1);
  expect(await exists(layout.upload(id(1)))).toBe(true);
  expect(await exists(layout.uploadData(id(2)))).toBe(true);
  expect(await exists(layout.upload(id(3)))).toBe(false);
});
