/**
 * The UI with a pull-through mirror in front of another berth: mirrored repositories told apart
 * from local ones, the mirror page's per-upstream counts and reachability, and browsing that never
 * reaches the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfig } from '../support/mirror.ts';
import { freePort } from '../support/net.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { pushImage, UiClient } from '../support/ui.ts';

const accept = 'application/vnd.oci.image.manifest.v1+json';
let upstream: TestServer;
let mirror: TestServer;
let ui: UiClient;

/** Requests the upstream has logged so far. */
const upstreamRequests = (): number => upstream.logs().split('\n').filter((l) => l.includes('"msg":"request"')).length;

beforeAll(async () => {
  upstream = await startServer();
  await pushImage(upstream.url, 'team/tool', { tag: 'v1' });
  const down = `http://127.0.0.1:${await freePort()}`;
  const config = await writeConfig(
    [
      'mirror:',
      '  upstreams:',
      `    - { name: up, url: "${upstream.url}", prefix: up }`,
      `    - { name: gone, url: "${down}", prefix: gone }`,
      '  retention: { maxSize: 1GiB, maxAge: 30d, interval: 1s }',
      'gc: { interval: 1s }',
      '',
    ].join('\n'),
  );
  mirror = await startServer({ args: ['--config', config] });
  ui = new UiClient(mirror.url);
  await pushImage(mirror.url, 'local/app', { tag: 'v1' });
  // A miss, then a hit.
  for (let i = 0; i < 2; i++) expect((await fetch(`${mirror.url}/v2/up/team/tool/manifests/v1`, { headers: { Accept: accept } })).status).toBe(200);
  expect((await fetch(`${mirror.url}/v2/gone/x/manifests/v1`, { headers: { Accept: accept } })).status).toBe(503);
}, 60_000);

afterAll(async () => {
  await mirror?.stop();
  await upstream?.stop();
});

describe('the UI with a mirror', () => {
  it('tells mirrored repositories from local ones', async () => {
    const all = (await ui.page('/ui/')).html;
    expect(all).toMatch(/href="\/ui\/repo\/up\/team\/tool">up\/team\/tool<\/a><\/td><td><span class="badge">mirror of up<\/span>/);
    expect(all).toMatch(/href="\/ui\/repo\/local\/app">local\/app<\/a><\/td><td><span class="badge">local<\/span>/);
    const mirrored = (await ui.page('/ui/?kind=mirrored')).html;
    expect(mirrored).toContain('/ui/repo/up/team/tool');
    expect(mirrored).not.toContain('/ui/repo/local/app');
    expect((await ui.page('/ui/?kind=local')).html).not.toContain('/ui/repo/up/team/tool');
  });

  it('shows what the mirror holds without asking the upstream, and offers no delete', async () => {
    const before = upstreamRequests();
    const repo = (await ui.page('/ui/repo/up/team/tool')).html;
    expect(repo).toContain('the tags cached here');
    expect(repo).toContain('/ui/repo/up/team/tool/-/manifest/v1');
    expect(repo).not.toContain('/-/delete');
    const manifest = await ui.page('/ui/repo/up/team/tool/-/manifest/v1');
    expect(manifest.status).toBe(200);
    expect(manifest.html).not.toContain('/-/delete');
    expect((await ui.page('/ui/repo/up/team/tool/-/delete?tag=v1')).status).toBe(403);
    // Give the upstream's log a moment: nothing new may arrive.
    await new Promise((r) => setTimeout(r, 200));
    expect(upstreamRequests()).toBe(before);
  });

  it('shows each upstream’s reachability and how clients were answered', async () => {
    const { html } = await ui.page('/ui/mirror');
    const section = (i: number): string => {
      const start = html.indexOf(`<h2 id="up-${i}">`);
      return html.slice(start, html.indexOf('</section>', start));
    };
    const up = section(0);
    expect(up).toContain(`<code>${upstream.url}</code>`);
    expect(up).toMatch(/<span class="ok">reachable<\/span>: HTTP 200 in \d+ ms/);
    expect(up).toContain('<li>hit: <strong>1</strong></li><li>miss: <strong>1</strong></li><li>revalidated: <strong>0</strong></li><li>stale: <strong>0</strong></li>');
    const gone = section(1);
    expect(gone).toContain('<span class="warn">unreachable</span>: could not connect');
    expect(gone).toMatch(/of which failed or refused: [1-9]/);
    // Before the first sweep measures the cache: "limit: 1.0 GiB"; after: "… of 1.0 GiB".
    expect(html).toMatch(/(limit:|of) 1\.0 GiB/);
    expect(html).toContain('Unused images expire after</dt><dd>30d');
  });

  it('shows the cache size and what expires next as the last retention sweep measured them', async () => {
    const manifest = await fetch(`${mirror.url}/v2/up/team/tool/manifests/v1`, { method: 'HEAD', headers: { Accept: accept } });
    const digest = manifest.headers.get('docker-content-digest') ?? '';
    // The sweep runs every second; the page fills in once one has finished after the pulls.
    let html = '';
    for (let i = 0; i < 100 && !html.includes('(measured'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      html = (await ui.page('/ui/mirror')).html;
    }
    expect(html).toMatch(/<dt>Size<\/dt><dd>\d[\d.]* (B|KiB) of 1\.0 GiB <span class="muted">\(measured/);
    const next = html.slice(html.indexOf('<h3>Next to expire</h3>'));
    expect(next).toContain('<td>up/team/tool</td>');
    expect(next).toContain(digest.slice('sha256:'.length, 'sha256:'.length + 12));
    expect(next).not.toContain('local/app');
  });

  it('lists the last maintenance runs with their figures', async () => {
    let html = '';
    for (let i = 0; i < 100 && !html.includes('<td>garbage collection</td>'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      html = (await ui.page('/ui/storage')).html;
    }
    const runs = html.slice(html.indexOf('<h2>Last runs</h2>'));
    expect(runs).toMatch(/<td>upload purge<\/td><td><time datetime="[^"]+">[^<]+<\/time><\/td><td><span class="ok">ok<\/span><\/td><td>purged: 0<\/td>/);
    expect(runs).toMatch(/<td>garbage collection<\/td>.*blobs kept: \d+/);
    // The content its manifests reference (two small images: KiB, not nothing).
    expect(html).toMatch(/<dt>Content stored<\/dt><dd>\d[\d.]* KiB <span class="muted">\(what the manifests reference/);
    expect(runs).toMatch(/<td>mirror retention sweep<\/td>.*bytes after: \d/);
  });
});
