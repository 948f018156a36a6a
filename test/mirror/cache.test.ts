import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CachingDriver } from '../../src/cache/driver.ts';
import { formatDigest } from '../../src/oci/digest.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';
import type { Driver } from '../../src/storage/driver.ts';
import { pushTinyImage } from '../support/mirror.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** An fs driver that counts the whole-object reads reaching it. */
async function countingDriver(): Promise<{ driver: Driver; gets: () => number }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cache-'));
  dirs.push(dir);
  const fs = new FsDriver(dir);
  await fs.init();
  let gets = 0;
  const get = fs.get.bind(fs);
  fs.get = async (key: string) => {
    gets++;
    return get(key);
  };
  return { driver: fs, gets: () => gets };
}

describe('manifest and tag cache (CachingDriver)', () => {
  it('serves a hot manifest GET without touching storage', async () => {
    const { driver, gets } = await countingDriver();
    const registry = new StoredRegistry(new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'owner' } }));
    const digest = await pushTinyImage(registry, 'team/app', 'v1', 'one');
    const first = await registry.manifests.get('team/app', { tag: 'v1' });
    expect(formatDigest(first.digest)).toBe(digest);
    const before = gets();
    const again = await registry.manifests.get('team/app', { tag: 'v1' });
    expect(formatDigest(again.digest)).toBe(digest);
    expect(Buffer.from(again.bytes).equals(Buffer.from(first.bytes))).toBe(true);
    expect(gets() - before).toBe(0);
  });

  it('sees tag moves, tag deletes and manifest deletes at once', async () => {
    const { driver } = await countingDriver();
    const registry = new StoredRegistry(new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'owner' } }));
    const one = await pushTinyImage(registry, 'team/app', 'v1', 'one');
    expect(formatDigest((await registry.manifests.get('team/app', { tag: 'v1' })).digest)).toBe(one);
    const two = await pushTinyImage(registry, 'team/app', 'v1', 'two');
    expect(formatDigest((await registry.manifests.get('team/app', { tag: 'v1' })).digest)).toBe(two);
    await registry.tags.delete('team/app', 'v1');
    expect(await registry.manifests.resolve('team/app', { tag: 'v1' })).toBeUndefined();
    await registry.manifests.delete('team/app', (await registry.manifests.stat('team/app', { digest: digestOf(two) })).digest);
    expect(await registry.manifests.resolve('team/app', { digest: digestOf(two) })).toBeUndefined();
  });

  it('stays within its byte budget, evicting the least recently used', async () => {
    const { driver, gets } = await countingDriver();
    const cache = new CachingDriver(driver, { maxBytes: 4096, trust: { mode: 'owner' } });
    for (let i = 0; i < 10; i++) await cache.put(`k/${i}`, new Uint8Array(600));
    for (let i = 0; i < 10; i++) await cache.get(`k/${i}`);
    const before = gets();
    await cache.get('k/9');
    expect(gets() - before).toBe(0);
    await cache.get('k/0');
    expect(gets() - before).toBe(1);
  });

  it('never caches what a read found while a write replaced it', async () => {
    const { driver } = await countingDriver();
    const cache = new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'owner' } });
    await cache.put('k/tag', 'old');
    const reading = cache.get('k/tag');
    await cache.put('k/tag', 'new');
    await reading;
    expect(new TextDecoder().decode(await cache.get('k/tag'))).toBe('new');
  });

  it('keeps its own copy of what it read, not the reader\'s', async () => {
    const { driver } = await countingDriver();
    const cache = new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'owner' } });
    await cache.put('k/x', 'abc');
    const first = await cache.get('k/x');
    const second = await cache.get('k/x');
    expect(second).not.toBe(first);
    expect(await cache.get('k/x')).toBe(second);
    expect(new TextDecoder().decode(second)).toBe('abc');
  });
});

const digestOf = (s: string) => ({ algorithm: 'sha256' as const, hex: s.slice(7) });

describe('cache TTL (for replicas sharing a store)', () => {
  it('re-reads tags after the TTL but keeps content-addressed manifest bytes', async () => {
    const { driver, gets } = await countingDriver();
    const cache = new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'ttl', ms: 50 } });
    await cache.put('repositories/a/_tags/v1', 'x');
    await cache.put('blobs/sha256/ab/abcd', 'y');
    await cache.get('repositories/a/_tags/v1');
    await cache.get('blobs/sha256/ab/abcd');
    await new Promise((r) => setTimeout(r, 80));
    const before = gets();
    await cache.get('repositories/a/_tags/v1');
    await cache.get('blobs/sha256/ab/abcd');
    expect(gets() - before).toBe(1);
  });
});

describe('cache on a store other processes write (replicas on S3, nothing shared but the store)', () => {
  it('answers every read of a tag or link from storage, so another writer is seen at once, and keeps manifest bytes', async () => {
    const { driver, gets } = await countingDriver();
    const here = new StoredRegistry(new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'storage' } }));
    // Another replica: its own cache, the same store.
    const there = new StoredRegistry(new CachingDriver(driver, { maxBytes: 1 << 20, trust: { mode: 'storage' } }));
    const one = await pushTinyImage(here, 'team/app', 'v1', 'one');
    expect(formatDigest((await there.manifests.get('team/app', { tag: 'v1' })).digest)).toBe(one);
    const before = gets();
    await there.manifests.get('team/app', { tag: 'v1' });
    // The tag and the link again; the manifest's bytes (content addressed) from memory.
    expect(gets() - before).toBe(2);
    const two = await pushTinyImage(here, 'team/app', 'v1', 'two');
    expect(formatDigest((await there.manifests.get('team/app', { tag: 'v1' })).digest)).toBe(two);
    await here.tags.delete('team/app', 'v1');
    expect(await there.manifests.resolve('team/app', { tag: 'v1' })).toBeUndefined();
  });
});
