/**
 * What the concurrency suite runs against: berth on local disk or on S3 (TEST_STORAGE), a way to
 * look at the stored objects directly, and `berth gc` as a process of its own on the same storage.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createBucket, s3ConfigFile, s3Storage, startS3, type S3Server } from '../support/s3.ts';
import { berthCommand, startServer, testRuntime, type TestServer } from '../support/server.ts';
import { testStorage, type StorageName } from '../support/storage.ts';
import { bucketStore, diskStore, type StoreReader } from '../support/store.ts';

const run = promisify(execFile);

export interface Stack {
  storage: StorageName;
  server: TestServer;
  /** The stored objects, read directly (not through berth). */
  store: StoreReader;
  /** Runs `berth gc` (same runtime, same storage) and returns what it printed. */
  gc(...args: string[]): Promise<string>;
  /** Stops berth and keeps the storage, for checks that must not race a serving registry. */
  stopServer(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts berth with `config` (the YAML document, without `storage`) on `storage`. */
export async function startStack(config: Record<string, unknown>, storage: StorageName = testStorage): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-concurrency-'));
  let s3: S3Server | undefined;
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  try {
    let file = join(dir, 'berth.yaml');
    let store: StoreReader;
    const data = join(dir, 'data');
    if (storage === 's3') {
      s3 = await startS3();
      const server = s3;
      cleanups.unshift(() => server.stop());
      const bucket = await createBucket(s3, 'concurrency');
      const written = await s3ConfigFile(s3Storage(s3, bucket), config);
      cleanups.unshift(() => written.remove());
      file = written.file;
      store = bucketStore(s3.client, bucket);
    } else {
      await writeFile(file, JSON.stringify(config));
      store = diskStore(data);
    }
    const server = await startServer({ dataDir: data, args: ['--config', file] });
    const [bin, pre] = berthCommand(testRuntime);
    const stopServer = (): Promise<void> => server.stop();
    return {
      storage,
      server,
      store,
      async gc(...args) {
        const { stdout } = await run(bin, [...pre, 'gc', '--config', file, '--data', data, ...args], { env: process.env, maxBuffer: 16 << 20 });
        return stdout;
      },
      stopServer,
      async stop() {
        await stopServer();
        for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    throw e;
  }
}

/** Runs `task` again and again until `stop` is called; the promise settles with the runs made (or the first failure). */
export function repeatUntilStopped(task: () => Promise<unknown>): { stop(): Promise<number> } {
  let stopped = false;
  const loop = (async () => {
    let runs = 0;
    while (!stopped) {
      await task();
      runs++;
    }
    return runs;
  })();
  loop.catch(() => undefined);
  return {
    stop: async () => {
      stopped = true;
      return loop;
    },
  };
}
