/**
 * Prefetch (issue 16): `mirror.prefetch` against CNCF distribution behind a counting proxy, a
 * repository with version tags and others, each a two-platform index. `berth mirror prefetch`
 * fetches exactly the tags the filters select and the platforms asked for (counted at the
 * upstream), skips what is stored on a second run, resumes after a failed one fetching only what
 * is missing; the server's schedule does the same on its own.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { allManifestTypes, fetchVerified, pushHttpImage, pushHttpIndex, sha256, writeConfig } from '../support/mirror.ts';
import { berthCommand, logged, scrape, startServer, testRuntime, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const describePrefetch = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;

/** One tag: its index and, per platform, the image manifest and its blobs. */
interface Tagged {
  index: string;
  platforms: Record<'amd64' | 'arm64', { manifest: string; blobs: string[] }>;
}

const tags = ['1.0.0', '1.1.0', '1.2.0', '2.0.0', 'v2.1', '3.0.0', 'latest', 'dev'];

describePrefetch('mirror prefetch', () => {
  let distribution: Distribution;
  let proxy: FaultProxy;
  let config: string;
  const pushed: Record<string, Tagged> = {};
  const dirs: string[] = [];

  const dataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-prefetch-'));
    dirs.push(dir);
    return dir;
  };

  /** `berth mirror prefetch` on `data`: exit code, stdout. */
  async function prefetch(data: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const [bin, args] = berthCommand(testRuntime);
    try {
      const { stdout, stderr } = await run(bin, [...args, 'mirror', 'prefetch', '--config', config, '--data', data], { timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const failed = e as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  /** `berth mirror prefetch` on `data` as a child process of its own, to be killed mid-way. */
  function prefetchChild(data: string, cfg = config): { exited: Promise<number | null>; kill(): void } {
    const [bin, args] = berthCommand(testRuntime);
    const child = spawn(bin, [...args, 'mirror', 'prefetch', '--config', cfg, '--data', data], { stdio: 'ignore' });
    return { exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), kill: () => void child.kill('SIGKILL') };
  }

  /** Waits until the upstream was asked (GET) for `path`, then says how often. */
  async function asked1(path: string): Promise<number> {
    for (let i = 0; i < 600 && proxy.count('GET', path) === 0; i++) await sleep(50);
    return proxy.count('GET', path);
  }

  /** What the upstream was asked for: manifests by reference, blobs by digest (GETs). */
  const asked = (kind: 'manifests' | 'blobs'): string[] =>
    proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith(`/v2/library/tool/${kind}/`)).map((r) => r.path.slice(`/v2/library/tool/${kind}/`.length)).sort();

  /** 2.0.0 and v2.1 (the newest two within >=1.1 <3) on arm64, and latest on both platforms. */
  const expected = (): { manifests: string[]; blobs: string[] } => {
    const selected = [
      ['2.0.0', ['arm64']],
      ['v2.1', ['arm64']],
      ['latest', ['amd64', 'arm64']],
    ] as const;
    const manifests: string[] = [];
    const blobs: string[] = [];
    for (const [tag, platforms] of selected) {
      manifests.push(tag);
      for (const p of platforms) {
        manifests.push(pushed[tag]!.platforms[p].manifest);
        blobs.push(...pushed[tag]!.platforms[p].blobs);
      }
    }
    // Images of one platform share their config: one blob.
    return { manifests: manifests.sort(), blobs: [...new Set(blobs)].sort() };
  };

  beforeAll(async () => {
    distribution = await startDistribution();
    proxy = await startFaultProxy(distribution.url);
    for (const tag of tags) {
      const images = await Promise.all((['amd64', 'arm64'] as const).map((architecture) => pushHttpImage(distribution.url, 'library/tool', [randomBytes(20_000 + tags.indexOf(tag))], { architecture })));
      const index = await pushHttpIndex(distribution.url, 'library/tool', tag, images);
      pushed[tag] = { index: index.digest, platforms: { amd64: { manifest: images[0]!.digest, blobs: images[0]!.blobs }, arm64: { manifest: images[1]!.digest, blobs: images[1]!.blobs } } };
    }
    config = await writeConfig(
      [
        'mirror:',
        '  upstreams:',
        `    - { name: dist, url: "${proxy.url}", prefix: dist }`,
        '  prefetch:',
        '    images:',
        '      - { name: dist/library/tool, semver: ">=1.1 <3", newest: 2, platforms: [linux/arm64] }',
        '      - { name: dist/library/tool, tags: [latest] }',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await distribution?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('fetches exactly the selected tags and platforms, every manifest and blob once, and says so', async () => {
    const data = await dataDir();
    proxy.reset();
    const result = await prefetch(data);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const want = expected();
    expect(asked('manifests')).toEqual(want.manifests);
    expect(asked('blobs')).toEqual(want.blobs);
    expect(result.stdout).toContain('2 images, 3 tags, 7 manifests');
    expect(result.stdout).toContain(`fetched ${want.blobs.length} blobs`);
    // Not a terminal: no progress bar.
    expect(result.stderr).toBe('');

    // A second run finds it all stored: the tags are revalidated, no blob is fetched again.
    proxy.reset();
    const again = await prefetch(data);
    expect(again.code).toBe(0);
    expect(asked('blobs')).toEqual([]);
    expect(again.stdout).toContain(`fetched 0 blobs (0.0 MiB); ${want.blobs.length} already here`);

    // What was fetched is served by a berth on that storage without asking the upstream.
    const server = await startServer({ args: ['--config', config], dataDir: data });
    try {
      proxy.reset();
      for (const blob of want.blobs) await fetchVerified(server.url, 'dist/library/tool', 'blobs', blob);
      expect(asked('blobs')).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('after a failed run, fetches only what is still missing', async () => {
    const data = await dataDir();
    const want = expected();
    const broken = pushed.latest!.platforms.amd64.blobs[1]!;
    proxy.reset();
    proxy.fault = (r) => (r.path.endsWith(`/blobs/${broken}`) ? { kind: 'status', status: 503 } : undefined);
    const failed = await prefetch(data);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^failed: dist\/library\/tool:latest: UNAVAILABLE: upstream dist answered 503$/m);
    proxy.reset();
    const resumed = await prefetch(data);
    expect(resumed.code, resumed.stdout).toBe(0);
    expect(asked('blobs')).toEqual([broken]);
    expect(resumed.stdout).toContain(`fetched 1 blobs`);
    expect(resumed.stdout).toContain(`${want.blobs.length - 1} already here`);
  });

  it('runs on the server’s schedule, once storage is ready and again after the interval', async () => {
    const scheduled = await writeConfig(
      [
        'mirror:',
        '  upstreams:',
        `    - { name: dist, url: "${proxy.url}", prefix: dist, tagTtl: 0 }`,
        '  prefetch:',
        '    interval: 1s',
        '    images:',
        '      - { name: dist/library/tool, tags: ["1\\\\..*"], platforms: [linux/amd64] }',
        '',
      ].join('\n'),
    );
    proxy.reset();
    const server = await startServer({ args: ['--config', scheduled], dataDir: await dataDir() });
    try {
      const want = [...new Set(['1.0.0', '1.1.0', '1.2.0'].flatMap((t) => pushed[t]!.platforms.amd64.blobs))].sort();
      const runs = (): number => logged(server, 'mirror prefetch').length;
      for (let i = 0; i < 200 && runs() < 2; i++) await sleep(100);
      expect(runs()).toBeGreaterThanOrEqual(2);
      // The first run fetched them, the second found them stored.
      expect(asked('blobs')).toEqual(want);
      const lines = logged(server, 'mirror prefetch');
      expect(lines[0]).toMatchObject({ level: 'info', tags: 3, blobsFetched: want.length, blobsPresent: 0, failures: 0 });
      expect(lines[1]).toMatchObject({ blobsFetched: 0, blobsPresent: want.length });
      // And in the metrics, counted over every run so far.
      expect(await scrape(server.url, 'berth_mirror_prefetch_runs_total', ['result="ok"'])).toBeGreaterThanOrEqual(lines.length);
      expect(await scrape(server.url, 'berth_mirror_prefetch_runs_total', ['result="failed"'])).toBe(0);
      expect(await scrape(server.url, 'berth_mirror_prefetch_blobs_total', ['state="fetched"'])).toBe(want.length);
      expect(await scrape(server.url, 'berth_mirror_prefetch_blobs_total', ['state="present"'])).toBeGreaterThanOrEqual(want.length);
      expect(await scrape(server.url, 'berth_mirror_prefetch_fetched_bytes_total')).toBeGreaterThan(want.length * 100);
      expect(await scrape(server.url, 'berth_mirror_prefetch_failures_total')).toBe(0);
      expect(await scrape(server.url, 'berth_mirror_prefetch_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
    } finally {
      await server.stop();
    }
  });

  it('shares every upstream fetch with a client pulling the same image at that moment', async () => {
    const cfg = await writeConfig(
      [
        'mirror:',
        '  upstreams:',
        `    - { name: dist, url: "${proxy.url}", prefix: dist, tagTtl: 1h }`,
        '  prefetch:',
        '    interval: 1h',
        '    concurrency: 1',
        '    images:',
        '      - { name: dist/library/tool, tags: [latest] }',
        '',
      ].join('\n'),
    );
    // Every GET of a manifest or blob waits at the upstream until the test lets it through, so
    // the prefetch and the client are both waiting on the same upstream answer.
    const gates = new Map<string, { until: Promise<void>; open(): void }>();
    const gate = (path: string): { until: Promise<void>; open(): void } => {
      let g = gates.get(path);
      if (!g) {
        let open!: () => void;
        g = { until: new Promise<void>((r) => (open = r)), open: () => open() };
        gates.set(path, g);
      }
      return g;
    };
    const repo = '/v2/library/tool';
    proxy.reset();
    proxy.fault = (r) => (r.method === 'GET' && /^\/v2\/library\/tool\/(manifests|blobs)\//.test(r.path) ? { kind: 'hold', until: gate(r.path).until } : undefined);
    const server = await startServer({ args: ['--config', cfg], dataDir: await dataDir() });
    try {
      const latest = pushed.latest!;
      const get = (kind: 'manifests' | 'blobs', ref: string): Promise<Uint8Array> =>
        fetch(`${server.url}/v2/dist/library/tool/${kind}/${ref}`, { headers: { Accept: allManifestTypes } }).then(async (res) => {
          const body = new Uint8Array(await res.arrayBuffer());
          if (res.status !== 200) throw new Error(`${kind}/${ref}: ${res.status} ${new TextDecoder().decode(body)}`);
          return body;
        });
      // Manifests: the prefetch asks first (the tag, then each platform's image in turn); the
      // client asks while that answer is held, then it is let through.
      const manifests: Array<[string, string]> = [
        ['latest', latest.index],
        [latest.platforms.amd64.manifest, latest.platforms.amd64.manifest],
        [latest.platforms.arm64.manifest, latest.platforms.arm64.manifest],
      ];
      for (const [ref, digest] of manifests) {
        expect(await asked1(`${repo}/manifests/${ref}`)).toBe(1);
        const client = get('manifests', ref);
        await sleep(1000);
        gate(`${repo}/manifests/${ref}`).open();
        expect(sha256(await client)).toBe(digest);
      }
      // Blobs: the prefetch takes one at a time; the client asks for all four at once, so it joins
      // the prefetch's download of the first and starts the other three, which the prefetch joins.
      const blobs = [...latest.platforms.amd64.blobs, ...latest.platforms.arm64.blobs];
      for (let i = 0; i < 600 && !blobs.some((b) => proxy.count('GET', `${repo}/blobs/${b}`) > 0); i++) await sleep(50);
      const client = blobs.map((b) => get('blobs', b).then((body) => expect(sha256(body)).toBe(b)));
      for (const b of blobs) expect(await asked1(`${repo}/blobs/${b}`)).toBe(1);
      for (const b of blobs) {
        await sleep(1000);
        gate(`${repo}/blobs/${b}`).open();
      }
      await Promise.all(client);
      const runs = (): Array<Record<string, unknown>> => logged(server, 'mirror prefetch');
      for (let i = 0; i < 200 && runs().length === 0; i++) await sleep(100);
      expect(runs()[0]).toMatchObject({ tags: 1, manifests: 3, failures: 0 });
      expect(Number(runs()[0]!.blobsFetched) + Number(runs()[0]!.blobsPresent)).toBe(4);
      // Each manifest and blob crossed once, for both.
      for (const [ref] of manifests) expect(proxy.count('GET', `${repo}/manifests/${ref}`), ref).toBe(1);
      for (const b of blobs) expect(proxy.count('GET', `${repo}/blobs/${b}`), b).toBe(1);
      expect(proxy.requests.filter((r) => r.path.startsWith(`${repo}/blobs/`)).length).toBe(blobs.length);
      // What they shared was stored whole: served again with the upstream gone.
      proxy.fault = () => ({ kind: 'reset' });
      for (const b of blobs) await fetchVerified(server.url, 'dist/library/tool', 'blobs', b);
    } finally {
      for (const g of gates.values()) g.open();
      await server.stop();
    }
  });

  it('killed mid-way, fetches on its next run only what the first did not store', async () => {
    const data = await dataDir();
    const want = expected();
    // Fetched one at a time in a known order, the fourth blob hangs: the three before it are stored.
    const cfg = await writeConfig((await readFile(config, 'utf8')).replace('  prefetch:\n', '  prefetch:\n    concurrency: 1\n'));
    let hang!: () => void;
    const hung = new Promise<void>((r) => (hang = r));
    const order: string[] = [];
    proxy.reset();
    proxy.fault = (r) => {
      const blob = /^\/v2\/library\/tool\/blobs\/(.+)$/.exec(r.path)?.[1];
      if (r.method !== 'GET' || blob === undefined) return undefined;
      order.push(blob);
      return order.length === 4 ? { kind: 'hold', until: hung } : undefined;
    };
    const first = prefetchChild(data, cfg);
    try {
      for (let i = 0; i < 1200 && order.length < 4; i++) await sleep(50);
      expect(order).toHaveLength(4);
    } finally {
      first.kill();
      await first.exited;
      hang();
    }
    proxy.reset();
    const resumed = await prefetch(data);
    expect(resumed.code, resumed.stderr).toBe(0);
    // The three stored before the kill are not asked for again; the one cut off and the rest are.
    expect(asked('blobs')).toEqual(want.blobs.filter((b) => !order.slice(0, 3).includes(b)).sort());
    expect(resumed.stdout).toContain(`fetched ${want.blobs.length - 3} blobs`);
    expect(resumed.stdout).toContain('; 3 already here');
  });

  it('draws a progress bar on a terminal, then the summary', async () => {
    const data = await dataDir();
    const [bin, args] = berthCommand(testRuntime);
    const quote = (a: string): string => `'${a.replaceAll("'", "'\\''")}'`;
    const command = [bin, ...args, 'mirror', 'prefetch', '--config', config, '--data', data].map(quote).join(' ');
    proxy.reset();
    // script(1) runs the command on a pseudo-terminal and copies what it wrote (stdout and stderr).
    const { stdout } = await run('script', ['-qfec', command, '/dev/null'], { timeout: 120_000, env: { ...process.env, COLUMNS: '200' } });
    const want = expected();
    // Redrawn in place (\r, erase to end of line), blob by blob, up to every blob of each tag.
    const frames = stdout.split('\r').filter((f) => f.startsWith('['));
    expect(frames.length).toBeGreaterThan(3);
    expect(frames[0]).toMatch(/^\[-{24}\] 0\/\d+ blobs 0\.0 MiB {2}dist\/library\/tool:\S+\x1b\[K/);
    expect(stdout).toMatch(/\[#{24}\] (\d+)\/\1 blobs \d+\.\d MiB {2}dist\/library\/tool:latest\x1b\[K/);
    expect(stdout).toContain('2 images, 3 tags, 7 manifests');
    expect(stdout).toContain(`fetched ${want.blobs.length} blobs`);
  });
});
