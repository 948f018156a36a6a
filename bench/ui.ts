import { createHash } from 'node:crypto';
import { startServer, type TestServer } from '../test/support/server.ts';
import { expectStatus, pushSmallBlob, send } from './http.ts';
import { serverCore, showSpread, spread, table, type Spread } from './tools.ts';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const manifestType = 'application/vnd.oci.image.manifest.v1+json';
const indexType = 'application/vnd.oci.image.index.v1+json';

export interface UiFigures {
  tags: number;
  /** Milliseconds for 100 manifest GETs by tag, one after the other on one keep-alive connection. */
  manifestGetTimes100: number;
  /** Milliseconds to the last byte of the repository page, per page size. */
  page: Array<{ pageSize: number; ms: number; bytes: number }>;
}

/**
 * `tags` tags in one repository, as a CI registry accumulates them: nine in ten a single-platform
 * image, one in ten a two-platform index over two of them; one config per platform and a shared
 * base layer plus one layer of each image's own.
 */
export async function fill(url: string, repo: string, tags: number): Promise<void> {
  const configs: Record<string, { mediaType: string; digest: string; size: number }> = {};
  for (const architecture of ['amd64', 'arm64']) {
    const bytes = Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Cmd: ['/app'] } }));
    await pushSmallBlob(url, repo, bytes, sha256(bytes));
    configs[architecture] = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(bytes), size: bytes.length };
  }
  const base = Buffer.alloc(4096, 1);
  await pushSmallBlob(url, repo, base, sha256(base));
  const image = async (reference: string, architecture: string, i: number): Promise<{ mediaType: string; digest: string; size: number }> => {
    const own = Buffer.from(`layer ${reference} ${architecture} ${i}`.padEnd(2048, '.'));
    await pushSmallBlob(url, repo, own, sha256(own));
    const layers = [base, own].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(b), size: b.length }));
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: configs[architecture], layers, annotations: { 'org.opencontainers.image.revision': `r${i}` } }));
    expectStatus(await send('PUT', `${url}/v2/${repo}/manifests/${reference}`, { 'Content-Type': manifestType }, body), 201, `PUT manifest ${reference}`);
    return { mediaType: manifestType, digest: sha256(body), size: body.length };
  };
  for (let i = 0; i < tags; i++) {
    const tag = `build-${String(i).padStart(4, '0')}`;
    if (i % 10 !== 9) {
      await image(tag, 'amd64', i);
      continue;
    }
    const children = [await image(`${tag}-amd64`, 'amd64', i), await image(`${tag}-arm64`, 'arm64', i)];
    const manifests = children.map((c, k) => ({ ...c, platform: { os: 'linux', architecture: k === 0 ? 'amd64' : 'arm64' } }));
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests }));
    expectStatus(await send('PUT', `${url}/v2/${repo}/manifests/${tag}`, { 'Content-Type': indexType }, body), 201, `PUT index ${tag}`);
  }
}

const elapsed = async (fn: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

async function measure(server: TestServer, repo: string, pageSize: number, repeats: number): Promise<{ get100: Spread; page: Spread; bytes: number }> {
  const manifest = `${server.url}/v2/${repo}/manifests/build-0500`;
  const get100 = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) expectStatus(await send('GET', manifest, { Accept: manifestType }), 200, 'manifest GET');
  };
  let bytes = 0;
  const page = async (): Promise<void> => {
    bytes = expectStatus(await send('GET', `${server.url}/ui/repo/${repo}?n=${pageSize}`), 200, 'repository page').body.length;
  };
  // Warm-up: the first requests fill the cache and get the code compiled.
  for (let i = 0; i < 3; i++) {
    await get100();
    await page();
  }
  const gets: number[] = [];
  const pages: number[] = [];
  for (let i = 0; i < repeats * 5; i++) {
    gets.push(await elapsed(get100));
    pages.push(await elapsed(page));
  }
  return { get100: spread(gets), page: spread(pages), bytes };
}

/**
 * The web UI's repository page for a repository with `tags` tags, which issue 18 wants rendered in
 * less time than 100 manifest GETs on the same machine. berth on Node, pinned to the server core,
 * the client (this process) beside it: 100 sequential manifest GETs on one keep-alive connection
 * against one GET of the page (to its last byte), alternated, medians; the page with its default
 * 100 tags and with all of them (`?n=1000`).
 */
export async function uiComparison(repeats = 3, tags = 1000): Promise<{ figures: UiFigures; report: string }> {
  const repo = 'bench/ui';
  const figures: UiFigures = { tags, manifestGetTimes100: Infinity, page: [] };
  const spreads: Array<{ get100: Spread; page: Spread }> = [];
  const server = await startServer({ wrap: serverCore, env: { BERTH_LOG__REQUESTS: 'false' } });
  try {
    process.stderr.write(`  pushing ${tags} tags...\n`);
    await fill(server.url, repo, tags);
    for (const pageSize of [100, tags]) {
      process.stderr.write(`  repository page, ${pageSize} tags shown...\n`);
      const r = await measure(server, repo, pageSize, repeats);
      figures.manifestGetTimes100 = Math.min(figures.manifestGetTimes100, r.get100.median);
      figures.page.push({ pageSize, ms: r.page.median, bytes: r.bytes });
      spreads.push(r);
    }
  } finally {
    await server.stop();
  }
  const target = figures.manifestGetTimes100;
  const ms = (x: Spread): string => showSpread(x, (n) => n.toFixed(1));
  const rows = [['repository page', 'tags shown', 'ms', 'KiB', '100 manifest GETs, ms', 'target']];
  figures.page.forEach((p, i) => {
    const s = spreads[i]!;
    rows.push([`${tags} tags`, String(p.pageSize), ms(s.page), (p.bytes / 1024).toFixed(0), ms(s.get100), p.ms < target ? 'met' : 'missed']);
  });
  const note = `the target is the lower of the two medians of 100 manifest GETs, ${target.toFixed(1)} ms`;
  return { figures, report: `Web UI: a repository page against 100 manifest GETs (berth on Node, pinned; median (min–max) of ${repeats * 5})\n\n${table(rows)}\n${note}` };
}
