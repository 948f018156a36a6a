/**
 * The mirror never releases unverified bytes as a success (issue 12). An upstream that lies about a
 * blob — garbage of the right length, a short, long or zero Content-Length, a cut mid-stream, slow
 * then cut — makes every client of that download see a failed transfer: an error status, or a body
 * that aborts before its Content-Length (curl exits non-zero, fetch's body read rejects), never a
 * clean end. That holds for a GET, a HEAD then a GET, two clients sharing one download, and a Range.
 * Nothing is stored under the digest, and once the upstream behaves the next pull gets the right
 * bytes. Garbage manifests are refused too, and skopeo, a real client, fails and then succeeds.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.ts';
import { allManifestTypes, fetchDigest, mediaType, pushBlob, pushHttpImage, putManifest, sha256, writeConfig, type Descriptor } from '../support/mirror.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';
import { storeProblems } from '../support/store.ts';

const hasCurl = await new Promise<boolean>((ok) => execFile('curl', ['--version'], (e) => ok(!e)));
const describeVerify = (hasSkopeo && hasCurl) || process.env.CI ? describe : describe.skip;

/** What one client saw: `complete` is a 2xx whose body ended cleanly. */
interface Outcome {
  client: string;
  status: number;
  complete: boolean;
  detail: string;
}

/** A GET with curl, the raw client: its exit code says whether the transfer completed. */
function curl(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const args = ['-s', '--max-time', '60', '-o', '-', '-w', '\n%{http_code}', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  return new Promise((ok) => {
    execFile('curl', args, { encoding: 'buffer', maxBuffer: 64 << 20 }, (error, stdout) => {
      const cut = stdout.lastIndexOf(0x0a);
      const status = Number(stdout.subarray(cut + 1).toString());
      const body = stdout.subarray(0, cut);
      const code = error ? (error as { code?: number }).code : 0;
      ok({ client: 'curl', status, complete: code === 0 && status >= 200 && status < 300, detail: `curl exit ${code}, ${status}, ${body.length} bytes, ${sha256(body)}` });
    });
  });
}

/** A GET with fetch (undici): a body read that rejects is a failed transfer. */
async function fetched(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  let status = 0;
  try {
    const res = await fetch(url, { headers });
    status = res.status;
    const body = new Uint8Array(await res.arrayBuffer());
    return { client: 'fetch', status, complete: status >= 200 && status < 300, detail: `fetch ${status}, ${body.length} bytes, ${sha256(body)}` };
  } catch (e) {
    return { client: 'fetch', status, complete: false, detail: `fetch ${status}, ${e instanceof Error ? `${e.message} ${String(e.cause ?? '')}` : String(e)}` };
  }
}

/** An index of one image, pushed under `tag`. */
const pushIndex = (registry: string, repo: string, tag: string, image: Descriptor): Promise<Descriptor> =>
  putManifest(registry, repo, tag, { schemaVersion: 2, mediaType: mediaType.ociIndex, manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.size, platform: image.platform }] }, mediaType.ociIndex);

/** Every file below `dir` whose path names this digest's hex. */
async function filesNaming(dir: string, digest: string): Promise<string[]> {
  const hex = digest.slice('sha256:'.length);
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((p) => p.includes(hex));
}

const size = 2 << 20;

/** The lies, each applied to the upstream GET of one blob, after a pause so concurrent clients share the download. */
const faults: Array<{ name: string; fault: Fault }> = [
  { name: 'garbage of the right length', fault: { kind: 'garble' } },
  { name: 'a short Content-Length', fault: { kind: 'length', length: size / 2 } },
  { name: 'a zero Content-Length', fault: { kind: 'length', length: 0 } },
  { name: 'a long Content-Length, padded', fault: { kind: 'length', length: size + 4096 } },
  { name: 'a long Content-Length, then cut', fault: { kind: 'length', length: size + 4096, cut: true } },
  { name: 'a cut mid-stream', fault: { kind: 'truncate', bytes: size / 2 } },
  { name: 'slow, then cut', fault: { kind: 'slow', bytes: 64 << 10, ms: 10, cutAfter: (size * 3) / 4 } },
];

describeVerify('mirror: no unverified byte completes a response', () => {
  let upstream: Distribution;
  let proxy: FaultProxy;
  let mirror: TestServer;
  const cleanup: string[] = [];
  let n = 0;

  beforeAll(async () => {
    upstream = await startDistribution();
    proxy = await startFaultProxy(upstream.url);
    const config = await writeConfig(
      ['mirror:', '  default: hub', '  timeouts: { connect: 2, headers: 5, body: 5 }', '  upstreams:', `    - { name: hub, url: "${proxy.url}", tagTtl: 1h }`, ''].join('\n'),
    );
    cleanup.push(join(config, '..'));
    // Local disk, so the test can look at what was stored.
    mirror = await startServer({ args: ['--config', config] });
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(mirror?.logs());
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the proxy has seen `count` upstream GETs naming `digest` (the download started). */
  async function upstreamGets(digest: string, count: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (proxy.count('GET', `/blobs/${digest}`) < count) {
      if (Date.now() > deadline) throw new Error(`the mirror never asked the upstream for ${digest}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const scenarios: Array<{ name: string; run: (url: string, digest: string) => Promise<Outcome[]> }> = [
    {
      name: 'GET',
      run: async (url) => [await curl(url), await fetched(url)],
    },
    {
      name: 'HEAD then GET',
      run: async (url) => {
        // The HEAD starts the download (its answer has no body to verify); the GET joins it.
        await fetch(url, { method: 'HEAD' });
        return [await curl(url)];
      },
    },
    {
      name: 'two concurrent clients',
      run: async (url, digest) => {
        const first = curl(url);
        await upstreamGets(digest, 1);
        return Promise.all([first, fetched(url)]);
      },
    },
    {
      name: 'Range',
      run: async (url, digest) => {
        const cold = await curl(url, { Range: 'bytes=100-99999' });
        // A range joining a download under way, and one reaching the end of the blob.
        const before = proxy.count('GET', `/blobs/${digest}`);
        const whole = fetched(url);
        await upstreamGets(digest, before + 1);
        return [cold, ...(await Promise.all([fetched(url, { Range: 'bytes=0-1023' }), curl(url, { Range: `bytes=${size - 1000}-` }), whole]))];
      },
    },
  ];

  for (const { name: faultName, fault } of faults) {
    for (const scenario of scenarios) {
      it(`${scenario.name}: ${faultName} fails every client and stores nothing`, async () => {
        const repo = `verify/case-${n++}`;
        const bytes = randomBytes(size);
        const digest = await pushBlob(upstream.url, repo, bytes);
        proxy.reset();
        proxy.fault = (r) => (r.method === 'GET' && r.path.includes(`/blobs/${digest}`) ? { kind: 'delay', ms: 300, then: fault } : undefined);
        const url = `${mirror.url}/v2/${repo}/blobs/${digest}`;
        const outcomes = await scenario.run(url, digest);
        for (const o of outcomes) expect(o.complete, `${o.client} completed: ${o.detail}`).toBe(false);
        // A plain GET gets an answer, never a connection closed before a status line. Its 200 goes
        // out once the mirror has a chunk it may send (all but the newest), and the failure then
        // aborts the transfer; a download that fails before that (the upstream's bytes may reach a
        // busy mirror in one piece, just before the cut) is refused with a 503, as is an empty
        // answer, which is held until verified.
        if (scenario.name === 'GET') for (const o of outcomes) expect([200, 503], `${o.client}: ${o.detail}`).toContain(o.status);
        expect(proxy.count('GET', `/blobs/${digest}`)).toBeGreaterThanOrEqual(1);
        expect(await filesNaming(mirror.dataDir, digest), 'something was stored under the digest').toEqual([]);
        expect(await storeProblems(mirror.dataDir)).toEqual([]);

        proxy.fault = undefined;
        expect(await fetchDigest(url)).toEqual({ status: 200, digest });
        const ranged = await fetch(url, { headers: { Range: 'bytes=100-199' } });
        expect(ranged.status).toBe(206);
        expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
        expect((await filesNaming(mirror.dataDir, digest)).length).toBeGreaterThan(0);
      });
    }
  }

  it('answers every client, never closes before a status line, when the mirror was stalled while the upstream sent and broke off', async () => {
    // A busy machine: the mirror gets no CPU while the upstream sends half the blob and cuts, so
    // it finds those bytes in one piece, all held back, and the failure right behind them.
    const pid = mirror.process.pid!;
    for (let round = 0; round < 3; round++) {
      const repo = `verify/stalled-${n++}`;
      const digest = await pushBlob(upstream.url, repo, randomBytes(size));
      proxy.reset();
      proxy.fault = (r) => {
        if (!(r.method === 'GET' && r.path.includes(`/blobs/${digest}`))) return undefined;
        process.kill(pid, 'SIGSTOP');
        setTimeout(() => process.kill(pid, 'SIGCONT'), 500);
        return { kind: 'truncate', bytes: size / 2 };
      };
      const url = `${mirror.url}/v2/${repo}/blobs/${digest}`;
      for (const o of [await fetched(url), await curl(url)]) {
        expect(o.complete, `${o.client} completed: ${o.detail}`).toBe(false);
        expect([200, 503], `${o.client}: ${o.detail}`).toContain(o.status);
      }
      expect(await filesNaming(mirror.dataDir, digest)).toEqual([]);
    }
    proxy.fault = undefined;
  });

  it('refuses garbage manifest bytes by digest and by tag, and serves the right ones afterwards', async () => {
    const repo = 'verify/manifests';
    const image = await pushHttpImage(upstream.url, repo, [randomBytes(1000)]);
    const index = await pushIndex(upstream.url, repo, 'v1', image);
    proxy.reset();
    proxy.fault = (r) => (r.method === 'GET' && r.path.includes('/manifests/') ? { kind: 'garble' } : undefined);
    const accept = { Accept: allManifestTypes };
    for (const ref of [image.digest, 'v1']) {
      const url = `${mirror.url}/v2/${repo}/manifests/${ref}`;
      for (const o of [await curl(url, accept), await fetched(url, accept)]) {
        expect(o.complete, `${ref}: ${o.client} completed: ${o.detail}`).toBe(false);
        expect(o.status, `${ref}: ${o.detail}`).toBe(503);
      }
      const res = await fetch(url, { headers: accept });
      expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNAVAILABLE');
    }
    expect(await filesNaming(mirror.dataDir, image.digest)).toEqual([]);
    expect(await filesNaming(mirror.dataDir, index.digest)).toEqual([]);
    proxy.fault = undefined;
    for (const [ref, digest] of [[image.digest, image.digest], ['v1', index.digest]] as const) {
      const res = await fetch(`${mirror.url}/v2/${repo}/manifests/${ref}`, { headers: accept });
      expect(res.status).toBe(200);
      expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(digest);
    }
  });

  for (const { name, fault } of [faults[0]!, faults[5]!]) {
    it(`skopeo's pull fails on ${name} in a layer, then succeeds once the upstream behaves`, async () => {
      const repo = `verify/skopeo-${n++}`;
      const layer = gzipSync(randomBytes(3 << 20), { level: 1 });
      const image = await pushHttpImage(upstream.url, repo, [layer]);
      await pushIndex(upstream.url, repo, 'v1', image);
      const layerDigest = image.blobs[1]!;
      proxy.reset();
      proxy.fault = (r) => (r.method === 'GET' && r.path.includes(`/blobs/${layerDigest}`) ? fault : undefined);
      const host = new URL(mirror.url).host;
      const out = await mkdtemp(join(tmpdir(), 'berth-verify-'));
      cleanup.push(out);
      const failed = await skopeo('copy', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/${repo}:v1`, `oci:${join(out, 'a')}:v1`).then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      expect(failed, 'skopeo copied an image whose layer the upstream corrupted').toBeDefined();
      // The transfer failed (berth aborted it); skopeo did not have to catch the bytes with its own digest check.
      expect(failed).toMatch(/unexpected EOF|connection reset|\b503\b|unavailable/i);
      expect(failed).not.toMatch(/digest did not match/i);
      expect(await filesNaming(mirror.dataDir, layerDigest)).toEqual([]);
      proxy.fault = undefined;
      await skopeo('copy', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/${repo}:v1`, `oci:${join(out, 'b')}:v1`);
      expect((await readFile(join(out, 'b', 'blobs', 'sha256', layerDigest.slice(7)))).equals(layer)).toBe(true);
    });
  }
});
