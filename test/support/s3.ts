import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parse as parseYaml } from 'yaml';
import { freePort } from './net.ts';
import { startServer, type StartOptions, type TestServer } from './server.ts';

const run = promisify(execFile);

/** The repository root, whether this runs from test/ or from dist/test/. */
const root = ((): string => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

/** `../shared/s3/` beside the repository: Ceph RGW for tests (shared/README.md). */
const scripts = join(root, '..', 'shared', 's3');

export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An SDK client for the test itself (making buckets, looking inside). */
  client: S3Client;
  /** The Ceph configuration of this instance, for `radosgw-admin -c` (quotas). */
  cephConf: string;
  stop(): Promise<void>;
}

export const s3Available = existsSync(join(scripts, 's3-up.sh'));

const cephInstalled = (): Promise<boolean> =>
  run('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd']).then(
    () => true,
    () => false,
  );

/** Runs `task` while holding a lock directory (shared by test workers, which are separate processes). */
async function exclusively<T>(lock: string, task: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} is still held after 5 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await task();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Starts a throw-away RGW on a free port (about 4 s; the first time also installs Ceph). Its objects
 * live in RAM, up to `memstoreBytes` (s3-up.sh's default: 4 GiB).
 */
export async function startS3(opts: { memstoreBytes?: number } = {}): Promise<S3Server> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'berth-rgw-'));
  // s3-up.sh wants its DIR new or empty; it refuses anything else.
  await rm(dir, { recursive: true, force: true });
  const stop = async (): Promise<void> => {
    await run(join(scripts, 's3-down.sh'), [dir]).catch(() => undefined);
  };
  let stdout: string;
  try {
    const env = opts.memstoreBytes === undefined ? process.env : { ...process.env, MEMSTORE_BYTES: String(opts.memstoreBytes) };
    const up = () => run(join(scripts, 's3-up.sh'), [dir, String(port)], { maxBuffer: 16 << 20, env });
    // The first start on a fresh machine installs Ceph with apt-get; two at once would fight over dpkg's lock.
    ({ stdout } = (await cephInstalled()) ? await up() : await exclusively(join(tmpdir(), 'berth-ceph-install.lock'), up));
  } catch (e) {
    await stop();
    throw e;
  }
  const env = Object.fromEntries(stdout.split('\n').flatMap((l) => (l.includes('=') ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]] : [])));
  const settings = {
    endpoint: String(env.S3_ENDPOINT),
    region: String(env.AWS_REGION ?? 'us-east-1'),
    accessKeyId: String(env.AWS_ACCESS_KEY_ID),
    secretAccessKey: String(env.AWS_SECRET_ACCESS_KEY),
  };
  const client = new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    ...settings,
    client,
    cephConf: String(env.CEPH_CONF),
    stop: async () => {
      client.destroy();
      await stop();
    },
  };
}

let buckets = 0;

/** Removes everything in `bucket` (RGW keeps objects in memory: a bench round gives its room back). */
export async function emptyBucket(s3: S3Server, bucket: string): Promise<void> {
  for (;;) {
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) return;
    await s3.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}

/** Creates a bucket no other test uses and returns its name. */
export async function createBucket(s3: S3Server, label = 'test'): Promise<string> {
  const name = `${label}-${process.pid}-${++buckets}`;
  await s3.client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/**
 * Limits a bucket to `bytes` with an RGW bucket quota: a write that would pass it fails with
 * 403 QuotaExceeded, S3's way of saying the store is full.
 */
export async function setBucketQuota(s3: S3Server, bucket: string, bytes: number): Promise<void> {
  const admin = (...args: string[]) => run('radosgw-admin', ['-c', s3.cephConf, 'quota', ...args, '--quota-scope=bucket', `--bucket=${bucket}`]);
  await admin('set', `--max-size=${bytes}`);
  await admin('enable');
}

/** berth's `storage.s3` settings for a bucket on this server. */
export function s3Storage(s3: S3Server, bucket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    ...extra,
  };
}

/** Writes a config file naming S3 storage (JSON is YAML) and returns its path and its remover. */
export async function s3ConfigFile(storage: Record<string, unknown>, more: Record<string, unknown> = {}): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-s3-config-'));
  const file = join(dir, 'berth.yaml');
  await writeFile(file, JSON.stringify({ storage: { s3: storage }, ...more }));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Starts berth with its storage in `bucket`; stopping it removes its config file too. A `--config`
 * among `opts.args` is merged into that file: berth reads one config file (the last `--config`
 * wins), so passing both would silently drop the S3 storage.
 */
export async function startS3Server(s3: S3Server, bucket: string, opts: StartOptions & { storage?: Record<string, unknown> } = {}): Promise<TestServer> {
  const args = [...(opts.args ?? [])];
  const at = args.indexOf('--config');
  let more: Record<string, unknown> = {};
  if (at >= 0) {
    const [, file] = args.splice(at, 2);
    const doc: unknown = parseYaml(await readFile(file!, 'utf8'));
    if (doc && typeof doc === 'object') more = doc as Record<string, unknown>;
    if ('storage' in more) throw new Error(`${file} names storage; startS3Server sets it`);
  }
  const config = await s3ConfigFile(s3Storage(s3, bucket, opts.storage), more);
  const server = await startServer({ ...opts, args: ['--config', config.file, ...args] }).catch(async (e: unknown) => {
    await config.remove();
    throw e;
  });
  const stop = server.stop.bind(server);
  return { ...server, stop: async (signal) => (await stop(signal), await config.remove()) };
}
