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
      '  retention: { maxSize: 1GiB, maxAge: 30d }',
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
    expect(html).toContain('limit: 1.0 GiB');
    expect(html).toContain('Unused images expire after</dt><dd>30d');
    expect(html).toContain('the retention sweep does not report its plan yet');
  });
});
