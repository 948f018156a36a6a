/**
 * Storage failures reach clients as the spec's errors that say what happened, never where (issue
 * 12): no key, path, bucket, host or port in a body, one log line per failure with the detail and
 * no stack. A full disk (a real tmpfs) or a full bucket (a real RGW quota) is 507 "storage is full";
 * a read-only disk, or an S3 that refuses connections, is 503 with Retry-After; an S3 that takes
 * connections and never answers is 503 within storage.s3.totalTimeout, and /readyz answers within
 * its own bound whatever storage does; below storage.fs.minFreeSpace /readyz says not ready. Every
 * case recovers once storage does. On local disk, an acknowledged blob, link, manifest or tag was
 * flushed, renamed and its directory flushed before the answer left (strace watches the syscalls),
 * and temporary files left by a dead process are gone at start.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from '../support/http.ts';
import { digestOf, imageManifest, json, mediaTypes, pushBlob, putManifest } from '../support/oci.ts';
import { createBucket, s3Available, setBucketQuota, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { mountTmpfs, tmpfsAvailable, type Tmpfs } from '../support/tmpfs.ts';

const MiB = 1 << 20;
const canMount = await tmpfsAvailable();
const hasStrace = await new Promise<boolean>((ok) => execFile('strace', ['-V'], (e) => ok(!e)));

/** The envelope's first error. */
const errorOf = (res: Reply): { code?: string; message?: string } => res.json<{ errors: Array<{ code: string; message: string }> }>().errors[0] ?? {};

/** A body that says nothing of where things are: none of `secrets`, no storage layout, no stack. */
function expectClean(res: Reply, secrets: string[]): void {
  const body = res.text();
  for (const s of [...secrets, 'repositories/', '_uploads', '_manifests', 'blobs/sha', ' at ', 'Error:']) expect(body, `body names ${s}`).not.toContain(s);
}

/** Fails instead of waiting forever: a storage hang must not become a client hang. */
async function within<T>(seconds: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's log lines for failed requests since `from` (an index into its log text). */
function failureLines(server: TestServer, from: number): string[] {
  return server
    .logs()
    .slice(from)
    .split('\n')
    .filter((l) => l.includes('"msg":"request failed"'));
}

/** A config and one layer, and the manifest over them (pushed with `pushImageParts`). */
function image(layerSize: number): { config: Buffer; layer: Buffer; manifest: Buffer } {
  const config = json({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') });
  const layer = randomBytes(layerSize);
  const manifest = imageManifest({
    config: { mediaType: mediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength },
    layers: [{ mediaType: mediaTypes.ociLayer, digest: digestOf(layer), size: layer.byteLength }],
  });
  return { config, layer, manifest };
}

const postBlob = (client: Client, repo: string, bytes: Uint8Array): Promise<Reply> =>
  client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });

const readyz = async (client: Client): Promise<Reply> => within(30, '/readyz', client.get('/readyz'));

/** Fills what is left of a filesystem with a file of its own; returns that file. */
async function fill(dir: string): Promise<string> {
  const filler = join(dir, 'filler');
  const piece = Buffer.alloc(64 << 10, 1);
  try {
    for (;;) await appendFile(filler, piece);
  } catch {
    return filler; // ENOSPC: full
  }
}

const describeDisk = canMount || process.env.CI ? describe : describe.skip;

describeDisk('local disk: full, read-only, and the free-space floor (a real 8 MiB tmpfs)', () => {
  let disk: Tmpfs;
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    const mounted = await mountTmpfs(8 * MiB);
    if (!mounted) throw new Error('cannot mount a tmpfs');
    disk = mounted;
    server = await startServer({ dataDir: join(disk.dir, 'data'), env: { BERTH_STORAGE__FS__MIN_FREE_SPACE: '3MiB', BERTH_CACHE__MAX_BYTES: '0' } });
    client = new Client(server.url);
  });
  afterAll(async () => {
    await server?.stop();
    await disk?.unmount();
  });

  it('a blob larger than the free space is 507 "storage is full", names no path, and leaves the space free', async () => {
    expect((await readyz(client)).status).toBe(200);
    const mark = server.logs().length;
    const res = await postBlob(client, 'full/app', randomBytes(9 * MiB));
    expect(res.status, res.text()).toBe(507);
    expect(errorOf(res)).toEqual({ code: 'UNAVAILABLE', message: 'storage is full: no space left on device' });
    expect(res.header('retry-after')).toBeUndefined();
    expectClean(res, [disk.dir, server.dataDir]);
    // The failed append gave its bytes back: the disk is as free as before, so still ready.
    expect((await readyz(client)).status).toBe(200);
    const lines = failureLines(server, mark);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"storage":"full"');
    expect(lines[0]).toContain('ENOSPC');
    expect(lines[0]).not.toContain('"stack"');
  });

  it('/readyz says not ready below storage.fs.minFreeSpace, while pushes that fit still succeed', async () => {
    const { config, layer, manifest } = image(4 * MiB);
    await pushBlob(client, 'full/app', config);
    await pushBlob(client, 'full/app', layer);
    expect((await putManifest(client, 'full/app', 'v1', manifest, mediaTypes.ociManifest)).status).toBe(201);
    expect((await readyz(client)).status).toBe(200); // ~4 MiB free
    await pushBlob(client, 'full/app', randomBytes(MiB + MiB / 2));
    const res = await readyz(client);
    expect(res.status).toBe(503);
    expect(res.text()).toBe('not ready: storage is full: free space is below the configured minimum');
    expectClean(res, [disk.dir]);
  });

  it('a manifest on a full disk is 507 and is not half there; once space is back it goes in', async () => {
    const v1 = (await client.get('/v2/full/app/manifests/v1')).body;
    const v2 = Buffer.from(JSON.stringify({ ...JSON.parse(v1.toString()), annotations: { again: 'yes' } }));
    const filler = await fill(disk.dir);
    try {
      const res = await putManifest(client, 'full/app', 'v2', v2, mediaTypes.ociManifest);
      expect(res.status, res.text()).toBe(507);
      expect(errorOf(res)).toEqual({ code: 'UNAVAILABLE', message: 'storage is full: no space left on device' });
      expectClean(res, [disk.dir]);
      expect((await client.get('/v2/full/app/manifests/v2')).status).toBe(404);
      expect((await client.get(`/v2/full/app/manifests/${digestOf(v2)}`)).status).toBe(404);
      // Reads still work on a full disk.
      expect((await client.get('/v2/full/app/manifests/v1')).status).toBe(200);
    } finally {
      await rm(filler);
    }
    expect((await putManifest(client, 'full/app', 'v2', v2, mediaTypes.ociManifest)).status).toBe(201);
    expect((await client.get('/v2/full/app/manifests/v2')).body.equals(v2)).toBe(true);
  });

  it('a disk turned read-only is 503 "storage refused access" and not ready; writable again, all is well', async () => {
    await disk.remount({ ro: true });
    try {
      const res = await postBlob(client, 'full/ro', randomBytes(1000));
      expect(res.status, res.text()).toBe(503);
      expect(errorOf(res)).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^storage refused access: read-only file system/) });
      expectClean(res, [disk.dir]);
      const ready = await readyz(client);
      expect(ready.status).toBe(503);
      expect(ready.text()).toMatch(/^not ready: storage refused access: read-only file system/);
      expect((await client.get('/v2/full/app/manifests/v1')).status).toBe(200);
    } finally {
      await disk.remount({ ro: false });
    }
    expect((await postBlob(client, 'full/ro', randomBytes(1000))).status).toBe(201);
  });
});

/** Parsed `strace -f -y` output: each syscall where it ended (or, for socket writes, began). */
interface Syscall {
  at: number;
  name: string;
  args: string;
  result: number;
}

function parseTrace(text: string): Syscall[] {
  const out: Syscall[] = [];
  const pending = new Map<string, { name: string; args: string }>();
  text.split('\n').forEach((line, at) => {
    const unfinished = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (unfinished) {
      pending.set(unfinished[1]!, { name: unfinished[2]!, args: unfinished[3]! });
      // A write's bytes are on their way once it begins: order it by its start.
      if (/^(write|writev|sendto|sendmsg)$/.test(unfinished[2]!)) out.push({ at, name: unfinished[2]!, args: unfinished[3]!, result: 0 });
      return;
    }
    const resumed = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+= (-?\d+)/.exec(line);
    if (resumed) {
      const call = pending.get(resumed[1]!);
      pending.delete(resumed[1]!);
      if (call && !/^(write|writev|sendto|sendmsg)$/.test(call.name)) out.push({ at, name: call.name, args: call.args + resumed[3]!, result: Number(resumed[4]) });
      return;
    }
    const whole = /^(\d+)\s+(\w+)\((.*)\)\s+= (-?\d+)/.exec(line);
    if (whole) out.push({ at, name: whole[2]!, args: whole[3]!, result: Number(whole[4]) });
  });
  return out;
}

/**
 * Checks, for the object at `path`, the order that makes an acknowledged write survive power loss:
 * the file it came from flushed, then renamed into place, then its directory flushed, all before
 * the next 201 went out.
 */
function expectDurable(calls: Syscall[], path: string): void {
  const renamed = calls.filter((c) => /^rename/.test(c.name) && c.result === 0 && c.args.includes(`"${path}"`)).at(-1);
  expect(renamed, `no rename into ${path}`).toBeDefined();
  const source = /"([^"]+)"/.exec(renamed!.args)?.[1] ?? '';
  const flushed = calls.find((c) => /^f(data)?sync$/.test(c.name) && c.result === 0 && c.at < renamed!.at && c.args.includes(`<${source}>`));
  expect(flushed, `${source} was not flushed before its rename to ${path}`).toBeDefined();
  const directory = calls.find((c) => c.name === 'fsync' && c.result === 0 && c.at > renamed!.at && c.args.includes(`<${dirname(path)}>`));
  expect(directory, `the directory of ${path} was not flushed after the rename`).toBeDefined();
  const answered = calls.find((c) => /^(write|writev|sendto|sendmsg)$/.test(c.name) && c.at > renamed!.at && c.args.includes('HTTP/1.1 201'));
  expect(answered, `no 201 after ${path} was written`).toBeDefined();
  expect(directory!.at, `the 201 left before the directory of ${path} was flushed`).toBeLessThan(answered!.at);
}

/** Attaches strace to a running process (ours); resolves once it traces every thread. */
async function attachStrace(pid: number, file: string): Promise<() => Promise<void>> {
  const child = spawn('strace', ['-f', '-y', '-s', '24', '-o', file, '-e', 'trace=fdatasync,fsync,rename,renameat,renameat2,write,writev,sendto,sendmsg', '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach:\n${err}`)), 20_000);
    child.stderr.on('data', (d: string) => {
      err += d;
      if (/attached/.test(err)) {
        clearTimeout(timer);
        // It reports each thread as it attaches them: let it finish.
        setTimeout(resolve, 500);
      }
    });
    child.once('exit', (code) => reject(new Error(`strace exited with ${code}:\n${err}`)));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT'); // detaches; the server goes on
    await exited;
  };
}

const describeTrace = (hasStrace && process.platform === 'linux') || process.env.CI ? describe : describe.skip;

describeTrace('local disk: what is acknowledged is on stable storage; what died is swept at start', () => {
  let server: TestServer;
  let client: Client;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-durable-'));
    // Left by a process that died mid-write: one long ago, one a moment ago (maybe still in flight).
    await mkdir(join(dataDir, '_tmp'));
    await writeFile(join(dataDir, '_tmp', 'died-long-ago'), 'half a tag');
    await utimes(join(dataDir, '_tmp', 'died-long-ago'), new Date(0), new Date(0));
    await writeFile(join(dataDir, '_tmp', 'just-now'), 'half a link');
    server = await startServer({ dataDir });
    client = new Client(server.url);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('removes temporary files an earlier process left, once old enough to be nobody\'s write in flight', async () => {
    expect(await readdir(join(dataDir, '_tmp'))).toEqual(['just-now']);
  });

  it('flushes each blob, link, manifest and tag, renames it into place and flushes its directory before answering 201', async () => {
    const trace = join(dataDir, '..', `berth-strace-${process.pid}-${Date.now()}.txt`);
    const { config, layer, manifest } = image(256 << 10);
    const detach = await attachStrace(server.process.pid!, trace);
    try {
      await pushBlob(client, 'durable/app', config);
      const session = await client.request('POST', '/v2/durable/app/blobs/uploads/');
      expect(session.status).toBe(202);
      const location = session.header('location') ?? '';
      expect((await client.request('PATCH', location, { headers: { 'Content-Type': 'application/octet-stream' }, body: layer })).status).toBe(202);
      expect((await client.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digestOf(layer)}`)).status).toBe(201);
      expect((await putManifest(client, 'durable/app', 'v1', manifest, mediaTypes.ociManifest)).status).toBe(201);
    } finally {
      await detach();
    }
    const calls = parseTrace(await readFile(trace, 'utf8'));
    await rm(trace, { force: true });
    const hex = (b: Uint8Array): string => digestOf(b).slice('sha256:'.length);
    const root = dataDir;
    for (const bytes of [config, layer, manifest]) expectDurable(calls, join(root, 'blobs', 'sha256', hex(bytes).slice(0, 2), hex(bytes)));
    for (const bytes of [config, layer]) expectDurable(calls, join(root, 'repositories', 'durable', 'app', '_blobs', 'sha256', hex(bytes)));
    expectDurable(calls, join(root, 'repositories', 'durable', 'app', '_manifests', 'sha256', hex(manifest)));
    expectDurable(calls, join(root, 'repositories', 'durable', 'app', '_tags', 'v1'));
    expect(existsSync(join(root, 'repositories', 'durable', 'app', '_tags', 'v1'))).toBe(true);
  });
});

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

describeS3('S3 refusing, hanging and full (a real RGW behind a TCP proxy)', () => {
  let s3: S3Server;
  let bucket: string;
  let proxy: TcpProxy;
  /** Short S3 timeouts: a hang is 503 within seconds. */
  let quick: TestServer;
  /** S3 timeouts far longer than any wait here: only /readyz's own bound can answer. */
  let patient: TestServer;
  let client: Client;
  const repo = 's3faults/app';
  let pushed: ReturnType<typeof image>;
  let upload = '';
  let secrets: string[] = [];

  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'faults');
    proxy = await startTcpProxy(new URL(s3.endpoint));
    const via = { endpoint: proxy.url, maxAttempts: 2 };
    const env = { BERTH_CACHE__MAX_BYTES: '0' };
    [quick, patient] = await Promise.all([
      startS3Server(s3, bucket, { storage: { ...via, requestTimeout: '1s', totalTimeout: '3s' }, env }),
      startS3Server(s3, bucket, { storage: { ...via, requestTimeout: '60s', totalTimeout: '120s' }, env }),
    ]);
    client = new Client(quick.url);
    const proxyPort = new URL(proxy.url).port;
    const s3Port = new URL(s3.endpoint).port;
    secrets = [bucket, '127.0.0.1', `:${proxyPort}`, `:${s3Port}`, 's3://'];
    pushed = image(1000);
    await pushBlob(client, repo, pushed.config);
    await pushBlob(client, repo, pushed.layer);
    expect((await putManifest(client, repo, 'v1', pushed.manifest, mediaTypes.ociManifest)).status).toBe(201);
    const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    upload = started.header('location') ?? '';
  }, 240_000);
  afterAll(async () => {
    await Promise.all([quick?.stop(), patient?.stop()]);
    await proxy?.close();
    await s3?.stop();
  });

  it('S3 refusing connections: 503 UNAVAILABLE with Retry-After, naming no host, port, bucket or key; not ready', async () => {
    proxy.set('reset');
    const mark = quick.logs().length;
    const answers = [
      await client.get(`/v2/${repo}/manifests/v1`),
      await client.request('POST', `/v2/${repo}/blobs/uploads/`),
      await client.request('PATCH', upload, { headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(100) }),
    ];
    for (const res of answers) {
      expect(res.status, res.text()).toBe(503);
      expect(errorOf(res)).toEqual({ code: 'UNAVAILABLE', message: 'storage is unavailable; try again later' });
      expect(res.header('retry-after')).toBe('10');
      expectClean(res, secrets);
    }
    const head = await client.head(`/v2/${repo}/blobs/${digestOf(pushed.layer)}`);
    expect(head.status).toBe(503);
    expect(head.header('retry-after')).toBe('10');
    const ready = await readyz(client);
    expect(ready.status).toBe(503);
    expect(ready.text()).toBe('not ready: storage is unavailable; try again later');
    expectClean(ready, secrets);
    // The web UI, the other surface over the same registry, says the same in its own words.
    const page = await client.get(`/ui/repo/${repo}`);
    expect(page.status).toBe(503);
    expect(page.text()).toContain('Storage is not answering');
    expectClean(page, secrets);
    // One line per failed request, with the detail and no stack.
    const lines = failureLines(quick, mark);
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).toContain('"storage":"unavailable"');
      expect(line).not.toContain('"stack"');
    }
  });

  it('S3 taking connections and never answering: 503 within storage.s3.totalTimeout, and /readyz answers at once whatever the timeouts', async () => {
    proxy.set('stall');
    const mark = quick.logs().length;
    for (const res of [
      await within(60, 'a manifest GET', client.get(`/v2/${repo}/manifests/v1`)),
      await within(60, 'a PATCH', client.request('PATCH', upload, { headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(100) })),
    ]) {
      expect(res.status, res.text()).toBe(503);
      expect(errorOf(res)).toEqual({ code: 'UNAVAILABLE', message: 'storage did not answer in time; try again later' });
      expect(res.header('retry-after')).toBe('10');
      expectClean(res, secrets);
    }
    for (const line of failureLines(quick, mark)) expect(line).toContain('"storage":"timeout"');
    // The patient replica would wait two minutes for S3; its /readyz does not.
    const ready = await within(20, '/readyz with 2-minute S3 timeouts', new Client(patient.url).get('/readyz'));
    expect(ready.status).toBe(503);
    expect(ready.text()).toBe('not ready: storage did not answer in time; try again later');
    expectClean(ready, secrets);
  });

  it('recovers as soon as S3 answers again', async () => {
    proxy.set('pass');
    expect((await client.get(`/v2/${repo}/manifests/v1`)).status).toBe(200);
    expect((await readyz(client)).status).toBe(200);
    expect((await readyz(new Client(patient.url))).status).toBe(200);
    expect((await client.request('PATCH', upload, { headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(100) })).status).toBe(202);
  });

  it('a bucket over its quota is 507 "storage is full", naming nothing', async () => {
    const limited = await createBucket(s3, 'quota');
    await setBucketQuota(s3, limited, MiB);
    const server = await startS3Server(s3, limited);
    try {
      const c = new Client(server.url);
      const res = await postBlob(c, 'quota/app', randomBytes(2 * MiB));
      expect(res.status, res.text()).toBe(507);
      expect(errorOf(res)).toEqual({ code: 'UNAVAILABLE', message: 'storage is full: quota exceeded' });
      expectClean(res, [limited, '127.0.0.1', new URL(s3.endpoint).port]);
      expect((await postBlob(c, 'quota/app', randomBytes(1000))).status).toBe(201);
    } finally {
      await server.stop();
    }
  });
});
