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
  /** Runs another `berth` command on the same storage (`retention`, `--dry-run`) and returns what it printed. */
  berth(command: string, ...args: string[]): Promise<string>;
  /** Stops berth and keeps the storage, for checks that must not race a serving registry. */
  stopServer(): Promise<void>;
  /** Stops berth (gracefully) and starts it again on the same storage, with `config` instead when given. */
  restartServer(config?: Record<string, unknown>): Promise<void>;
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
    /** Writes the configuration file berth reads: `config` with the storage block the stack owns. */
    let configure = (c: Record<string, unknown>): Promise<void> => writeFile(file, JSON.stringify(c));
    if (storage === 's3') {
      s3 = await startS3();
      const server = s3;
      cleanups.unshift(() => server.stop());
      const bucket = await createBucket(s3, 'concurrency');
      const written = await s3ConfigFile(s3Storage(s3, bucket), config);
      cleanups.unshift(() => written.remove());
      file = written.file;
      configure = (c) => writeFile(file, JSON.stringify({ storage: { s3: s3Storage(server, bucket) }, ...c }));
      store = bucketStore(s3.client, bucket);
    } else {
      await configure(config);
      store = diskStore(data);
    }
    let server = await startServer({ dataDir: data, args: ['--config', file] });
    const [bin, pre] = berthCommand(testRuntime);
    const stopServer = (): Promise<void> => server.stop();
    const berth = async (command: string, ...args: string[]): Promise<string> => {
      const { stdout } = await run(bin, [...pre, command, '--config', file, '--data', data, ...args], { env: process.env, maxBuffer: 16 << 20 });
      return stdout;
    };
    return {
      storage,
      get server() {
        return server;
      },
      store,
      gc: (...args) => berth('gc', ...args),
      berth,
      stopServer,
      async restartServer(next) {
        await server.stop();
        if (next) await configure(next);
        server = await startServer({ dataDir: data, args: ['--config', file] });
      },
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
