/**
 * Maintenance and the catalog never fan out without a bound (issue 12): with thousands of
 * repositories and manifests, a server limited to 1024 file descriptors (`ulimit -n 1024`) answers
 * the whole catalog page by page and collects exactly the garbage there is, with gc running inside
 * it, while a client pulls beside it without one error; `berth gc` under the same limit agrees.
 * A pass that read, stat'ed or deleted them all at once would run out of descriptors (EMFILE).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachBounded } from '../../src/registry/bounded.ts';
import { digestOf, imageManifest, json, mediaTypes } from '../support/oci.ts';
import { scriptRunner, startServer, testRuntime, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
/** Runs a command with the soft limit on open files at 1024. */
const limited = ['sh', '-c', 'ulimit -n 1024; exec "$0" "$@"'];

const repositories = 2_000;
/** Repositories that also get a second manifest, deleted again: its bytes are garbage. */
const deleted = 200;
/** Blobs pushed and never referenced. */
const orphans = 300;
/** Manifests of one repository, pushed by digest: a pass over them all at once would open thousands of files. */
const crowded = 1_500;

const repoOf = (i: number): string => `fan/g${i % 40}/r${i}`;

let data = '';
let config = '';
let server: TestServer | undefined;
const configBytes = json({ architecture: 'amd64', os: 'linux' });
let garbageBytes = 0;
let expectedNames: string[] = [];

async function ok(res: Promise<Response>, status: number, what: string): Promise<void> {
  const r = await res;
  const body = await r.text();
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${body}`);
}

/** An image manifest over the shared config, made unique by an annotation. */
const manifestFor = (label: string): Buffer =>
  imageManifest({ config: { mediaType: mediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.byteLength }, annotations: { label } });

async function put(url: string, repo: string, reference: string, bytes: Buffer): Promise<void> {
  await ok(fetch(`${url}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'Content-Type': mediaTypes.ociManifest } }), 201, `PUT ${repo}:${reference}`);
}

beforeAll(async () => {
  data = await mkdtemp(join(tmpdir(), 'berth-fanout-'));
  config = await mkdtemp(join(tmpdir(), 'berth-fanout-config-'));
  // Seeded without the limit: the registry under test is the one restarted below.
  const seed = await startServer({ dataDir: data });
  const url = seed.url;
  const configDigest = digestOf(configBytes);
  await ok(fetch(`${url}/v2/seed/base/blobs/uploads/?digest=${configDigest}`, { method: 'POST', body: new Uint8Array(configBytes) }), 201, 'config');
  await put(url, 'seed/base', 'v1', manifestFor('base'));
  await forEachBounded(
    Array.from({ length: repositories }, (_, i) => i),
    async (i) => {
      const repo = repoOf(i);
      await ok(fetch(`${url}/v2/${repo}/blobs/uploads/?mount=${configDigest}&from=seed/base`, { method: 'POST' }), 201, `mount into ${repo}`);
      await put(url, repo, 'v1', manifestFor(repo));
      if (i < deleted) {
        const extra = manifestFor(`${repo} extra`);
        await put(url, repo, digestOf(extra), extra);
        await ok(fetch(`${url}/v2/${repo}/manifests/${digestOf(extra)}`, { method: 'DELETE' }), 202, `DELETE from ${repo}`);
        garbageBytes += extra.byteLength;
      }
      if (i < orphans) {
        const bytes = randomBytes(100);
        await ok(fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, { method: 'POST', body: new Uint8Array(bytes) }), 201, `orphan in ${repo}`);
        garbageBytes += bytes.byteLength;
      }
    },
    16,
  );
  await ok(fetch(`${url}/v2/fan/crowded/blobs/uploads/?mount=${configDigest}&from=seed/base`, { method: 'POST' }), 201, 'mount into fan/crowded');
  await forEachBounded(
    Array.from({ length: crowded }, (_, i) => manifestFor(`crowded ${i}`)),
    (bytes) => put(url, 'fan/crowded', digestOf(bytes), bytes),
    16,
  );
  expectedNames = ['seed/base', 'fan/crowded', ...Array.from({ length: repositories }, (_, i) => repoOf(i))].sort();
  await seed.stop();

  const file = join(config, 'berth.yml');
  await writeFile(file, 'gc:\n  interval: 1s\n  grace: 0s\nlog:\n  requests: false\n');
  server = await startServer({ dataDir: data, wrap: limited, args: ['--config', file] });
}, 600_000);

afterAll(async () => {
  await server?.stop();
  for (const dir of [data, config]) if (dir) await rm(dir, { recursive: true, force: true });
});

/** The first gc report the server logged, once there is one. */
async function firstGc(s: TestServer): Promise<Record<string, number>> {
  for (let i = 0; i < 900; i++) {
    const line = s.logs().split('\n').find((l) => l.includes('"msg":"garbage collected"'));
    if (line) return JSON.parse(line) as Record<string, number>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no gc report:\n${s.logs().slice(-4000)}`);
}

describe('maintenance and catalog under ulimit -n 1024', () => {
  it('runs with the limit in force', async () => {
    const limits = await readFile(`/proc/${server!.process.pid}/limits`, 'utf8');
    expect(limits).toMatch(/Max open files\s+1024\s/);
  });

  it('collects exactly the garbage there is, while a client pulls beside it without an error', async () => {
    const s = server!;
    const failures: string[] = [];
    let pulls = 0;
    let done = false;
    const puller = (async () => {
      for (let i = 0; !done; i = (i + 37) % repositories) {
        try {
          const res = await fetch(`${s.url}/v2/${repoOf(i)}/manifests/v1`, { headers: { Accept: mediaTypes.ociManifest } });
          const body = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200 || !body.equals(manifestFor(repoOf(i)))) failures.push(`${repoOf(i)}: ${res.status}`);
        } catch (e) {
          failures.push(`${repoOf(i)}: ${e instanceof Error ? e.message : String(e)}`);
        }
        pulls++;
      }
    })();
    let report;
    try {
      report = await firstGc(s);
    } finally {
      done = true;
      await puller;
    }
    expect(failures).toEqual([]);
    expect(pulls).toBeGreaterThan(0);
    expect(report).toMatchObject({
      repositories: repositories + 2,
      manifestsDeleted: 0,
      // The deleted manifests' own bytes and the orphans; the shared config and every kept manifest stay.
      blobsDeleted: deleted + orphans,
      blobsKept: repositories + crowded + 2,
      bytesFreed: garbageBytes,
      linksDeleted: orphans,
    });
    expect(s.logs()).not.toMatch(/EMFILE|too many open files|garbage collection failed/i);
  });

  it('answers the whole catalog, page by page, in order', async () => {
    const names: string[] = [];
    let next: string | null = '/v2/_catalog?n=1000';
    while (next) {
      const res: Response = await fetch(new URL(next, server!.url));
      expect(res.status).toBe(200);
      names.push(...((await res.json()) as { repositories: string[] }).repositories);
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('Link') ?? '')?.[1] ?? null;
    }
    expect(names).toEqual(expectedNames);
  });

  it('berth gc under the same limit finds nothing left to collect', async () => {
    const [bin, args] = scriptRunner(testRuntime);
    const entry = resolve(import.meta.dirname, '..', '..', testRuntime === 'node' ? 'dist/runtimes/node.js' : `runtimes/${testRuntime}.ts`);
    const { stdout } = await run(limited[0]!, [...limited.slice(1), bin, ...args, entry, 'gc', '--data', data, '--grace', '0s'], { env: { PATH: process.env.PATH ?? '' } });
    expect(stdout).toMatch(new RegExp(`^${repositories + 2} repositories checked$`, 'm'));
    expect(stdout).toMatch(/deleted 0 blobs/);
    expect(stdout).toMatch(new RegExp(`kept ${repositories + crowded + 2} blobs`));
  });
});
