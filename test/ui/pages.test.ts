/**
 * The web UI over HTTP on an open registry (auth off): every page, what it says, hostile content
 * shown as text, the CSRF rules, deletes, paging, the download, configuration (off, at the root),
 * and no 500 for any path thrown at it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWithConfig, type AuthServer } from '../support/auth.ts';
import { pushImage, pushSample, UiClient, type Sample } from '../support/ui.ts';

const hostile = {
  'org.example.note': '<img src=x onerror="window.__xss=1">',
  'org.example.quote': '"><script>window.__xss=2</script>',
};

let server: AuthServer;
let sample: Sample;
let ui: UiClient;

beforeAll(async () => {
  server = await startWithConfig({ ui: { pageSize: 10 } });
  ui = new UiClient(server.url);
  sample = await pushSample(server.url, 'team/app', 'v1', { annotations: hostile });
  for (const tag of ['v0', 'latest']) await pushImage(server.url, 'team/app', { tag, labels: { 'org.example.label': '<b>bold</b>' } });
  for (let i = 0; i < 25; i++) await pushImage(server.url, 'many/tags', { tag: `t${String(i).padStart(2, '0')}`, layers: 1 });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('pages', () => {
  it('GET / leads to the UI; pages carry headers that keep content inert', async () => {
    const root = await ui.get('/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
    expect((await ui.get('/ui')).headers.get('location')).toBe('/ui/');
    const { res, html } = await ui.page('/ui/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(html).toContain('href="/ui/repo/team/app"');
    expect(html).toContain('href="/ui/repo/many/tags"');
    // Its stylesheet and script ship with berth, under content-hashed names.
    for (const asset of html.match(/\/ui\/assets\/[a-z]+\.[0-9a-f]+\.(?:css|js|svg)/g) ?? []) {
      const res = await ui.get(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('cache-control')).toContain('immutable');
    }
    expect(html.match(/\/ui\/assets\//g)?.length).toBe(3);
  });

  it('searches and filters repositories', async () => {
    const found = (await ui.page('/ui/?q=many')).html;
    expect(found).toContain('/ui/repo/many/tags');
    expect(found).not.toContain('/ui/repo/team/app"');
    expect((await ui.page('/ui/?kind=mirrored')).html).toContain('No repositories match');
    expect((await ui.page('/ui/?kind=local')).html).toContain('/ui/repo/team/app');
    const open = await ui.get('/ui/?open=team/app');
    expect(open.headers.get('location')).toBe('/ui/repo/team/app');
  });

  it('lists a repository’s tags with digest, type, size and platforms', async () => {
    const { html } = await ui.page('/ui/repo/team/app');
    expect(html).toContain('3 tags');
    expect(html).toMatch(/href="\/ui\/repo\/team\/app\/-\/manifest\/v1"/);
    expect(html).toContain(`/ui/repo/team/app/-/manifest/${sample.index.digest}`);
    expect(html).toContain('OCI index');
    expect(html).toContain('<td class="mono">linux/amd64, linux/arm64</td>');
    expect(html).toContain('docker pull 127.0.0.1:');
    expect(html).toContain('podman pull --tls-verify=false 127.0.0.1:');
    // Push times come from the tags' own writes; pull times from the batched pull records.
    expect(html).toContain('<th scope="col">Pushed</th>');
    expect(html).not.toContain('Push and pull times are not recorded');
  });

  it('pages through 25 tags ten at a time, and finds tags by name', async () => {
    const first = (await ui.page('/ui/repo/many/tags')).html;
    expect(first.match(/<th scope="row">/g)?.length).toBe(10);
    const next = /<a href="([^"]+)" rel="next">/.exec(first)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBe('/ui/repo/many/tags?last=t09');
    const second = (await ui.page(next!)).html;
    expect(second).toContain('>t10<');
    expect(second).not.toContain('>t09<');
    const third = (await ui.page('/ui/repo/many/tags?last=t19')).html;
    expect(third.match(/<th scope="row">/g)?.length).toBe(5);
    expect(third).not.toContain('rel="next"');
    const search = (await ui.page('/ui/repo/many/tags?q=t2')).html;
    expect(search.match(/<th scope="row">/g)?.length).toBe(5);
  });

  it('shows an index: platforms, annotations, referrers by kind, raw JSON, pull commands', async () => {
    const { html } = await ui.page('/ui/repo/team/app/-/manifest/v1');
    expect(html).toContain('<h1>team/app:v1</h1>');
    expect(html).toContain('Platforms (2)');
    expect(html).toContain(`/ui/repo/team/app/-/manifest/${sample.amd64.digest}`);
    expect(html).toContain('Signatures (1)');
    expect(html).toContain('SBOMs (1)');
    // The SBOM's own signature hangs under it.
    expect(html.indexOf(sample.sbom.digest)).toBeLessThan(html.lastIndexOf('application/vnd.dev.cosign.artifact.sig.v1+json'));
    expect(html).toContain('skopeo copy --all --src-tls-verify=false docker://127.0.0.1:');
    expect(html).toContain('&quot;schemaVersion&quot;: 2');
  });

  it('shows an image: config summary, layers linked to their pages', async () => {
    const { html } = await ui.page(`/ui/repo/team/app/-/manifest/${sample.amd64.digest}`);
    expect(html).toContain('Config');
    expect(html).toContain('<code>/app</code>');
    expect(html).toContain('Layers');
    for (const layer of sample.amd64.layers) expect(html).toContain(`/ui/repo/team/app/-/blob/${layer.digest}?from=`);
    const layer = sample.amd64.layers[1]!;
    const blob = (await ui.page(`/ui/repo/team/app/-/blob/${layer.digest}?from=${encodeURIComponent(sample.amd64.digest)}`)).html;
    expect(blob).toContain('layer 2 of 3');
    expect(blob).toContain(`${layer.size.toLocaleString('en')} bytes`);
  });

  it('downloads a layer as an attachment, byte for byte', async () => {
    const layer = sample.arm64.layers[0]!;
    const res = await ui.get(`/ui/repo/team/app/-/blob/${layer.digest}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(layer.size);
    const { createHash } = await import('node:crypto');
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(layer.digest);
  });

  it('shows annotations, labels and search terms with markup as text', async () => {
    const { html } = await ui.page('/ui/repo/team/app/-/manifest/v1');
    expect(html).toContain('&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;window.__xss=2&lt;/script&gt;');
    expect(html).not.toMatch(/<img src=x|<script>window/);
    const latest = (await ui.page('/ui/repo/team/app/-/manifest/latest')).html;
    expect(latest).toContain('&lt;b&gt;bold&lt;/b&gt;');
    const search = (await ui.page(`/ui/?q=${encodeURIComponent('"><script>window.__xss=3</script>')}`)).html;
    expect(search).toContain('value="&quot;&gt;&lt;script&gt;window.__xss=3&lt;/script&gt;"');
    expect(search).not.toContain('<script>window');
    // The only script a page loads is berth's own, from its own origin.
    expect(html.match(/<script/g)?.length).toBe(1);
  });

  it('answers unknown, malformed and hostile paths with a 404 page, never a 500', async () => {
    const paths = [
      '/ui/repo/nope',
      '/ui/repo/team/app/-/manifest/nope',
      '/ui/repo/team/app/-/manifest/sha256:zz',
      `/ui/repo/team/app/-/manifest/sha256:${'0'.repeat(64)}`,
      `/ui/repo/team/app/-/blob/sha256:${'0'.repeat(64)}`,
      `/ui/repo/team/app/-/blob/sha256:${'0'.repeat(64)}/download`,
      '/ui/repo/team/app/-/what',
      '/ui/repo/UPPER/case',
      '/ui/repo/%2e%2e/%2e%2e/etc',
      '/ui/repo/%ZZ',
      '/ui/repo/team/app/-/manifest/%3Cscript%3E',
      '/ui/nothing-here',
      '/ui/assets/nope.css',
    ];
    for (const path of paths) {
      const res = await ui.get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/<script>|at .*\.ts:|\/tmp\//);
    }
  });
});

describe('deleting', () => {
  it('asks first, and deletes only with this session’s token from this origin', async () => {
    await pushImage(server.url, 'team/app', { tag: 'doomed' });
    const confirm = await ui.page('/ui/repo/team/app/-/delete?tag=doomed');
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('Delete the tag <strong>doomed</strong>');
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.html)?.[1] ?? '';

    const attempts: Array<[string, Record<string, string>, Record<string, string>?]> = [
      ['no token', { tag: 'doomed' }],
      ['a wrong token', { tag: 'doomed', csrf: `${csrf.slice(0, -2)}xx` }],
      ['another site', { tag: 'doomed', csrf }, { Origin: 'http://evil.example' }],
      ['a cross-site fetch', { tag: 'doomed', csrf }, { 'Sec-Fetch-Site': 'cross-site' }],
    ];
    for (const [what, form, headers] of attempts) {
      const res = await ui.request('POST', '/ui/repo/team/app/-/delete', { form, ...(headers ? { headers } : {}) });
      expect(res.status, what).toBe(403);
    }
    // Another session's token is no good either.
    const other = new UiClient(server.url);
    const otherToken = /name="csrf" value="([^"]+)"/.exec((await other.page('/ui/repo/team/app/-/delete?tag=doomed')).html)?.[1] ?? '';
    expect((await ui.request('POST', '/ui/repo/team/app/-/delete', { form: { tag: 'doomed', csrf: otherToken } })).status).toBe(403);
    expect((await fetch(`${server.url}/v2/team/app/manifests/doomed`)).status).toBe(200);

    const done = await ui.request('POST', '/ui/repo/team/app/-/delete', { form: { tag: 'doomed', csrf } });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/ui/repo/team/app?deleted=doomed');
    expect((await fetch(`${server.url}/v2/team/app/manifests/doomed`)).status).toBe(404);
    const after = (await ui.page(done.headers.get('location')!)).html;
    expect(after).toContain('Deleted tag <strong>doomed</strong>');
    expect(after).not.toContain('/-/manifest/doomed');
  });

  it('deletes a manifest with its tags', async () => {
    const image = await pushImage(server.url, 'team/gone', { tag: 'a' });
    await fetch(`${server.url}/v2/team/gone/manifests/b`, { method: 'PUT', body: await (await fetch(`${server.url}/v2/team/gone/manifests/a`)).arrayBuffer(), headers: { 'Content-Type': image.mediaType } });
    const confirm = (await ui.page(`/ui/repo/team/gone/-/delete?digest=${image.digest}`)).html;
    expect(confirm).toContain('Its tags go with it: <strong>a</strong>, <strong>b</strong>');
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm)?.[1] ?? '';
    const done = await ui.request('POST', '/ui/repo/team/gone/-/delete', { form: { digest: image.digest, csrf } });
    expect(done.status).toBe(303);
    expect((await fetch(`${server.url}/v2/team/gone/manifests/${image.digest}`)).status).toBe(404);
    expect((await fetch(`${server.url}/v2/team/gone/manifests/b`)).status).toBe(404);
  });
});

describe('configuration', () => {
  it('with deletes off, offers none and refuses them', async () => {
    const s = await startWithConfig({ delete: { tags: false, manifests: false } });
    try {
      await pushImage(s.url, 'team/app', { tag: 'kept' });
      const client = new UiClient(s.url);
      expect((await client.page('/ui/repo/team/app')).html).not.toContain('/-/delete');
      expect((await client.page('/ui/repo/team/app/-/manifest/kept')).html).not.toContain('/-/delete');
      const refused = await client.page('/ui/repo/team/app/-/delete?tag=kept');
      expect(refused.status).toBe(403);
      expect(refused.html).toContain('does not allow deleting tags');
    } finally {
      await s.stop();
    }
  });

  it('turns off, or moves to the root beside the API', async () => {
    const off = await startWithConfig({ ui: { enabled: false } });
    const root = await startWithConfig({ ui: { path: '/' } });
    try {
      expect((await fetch(`${off.url}/ui/`)).status).toBe(404);
      expect((await fetch(`${off.url}/`, { redirect: 'manual' })).status).toBe(404);
      await pushImage(root.url, 'team/app', { tag: 'v1' });
      const home = await fetch(`${root.url}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('href="/repo/team/app"');
      expect((await fetch(`${root.url}/repo/team/app/-/manifest/v1`)).status).toBe(200);
      expect((await fetch(`${root.url}/v2/team/app/manifests/v1`)).status).toBe(200);
      expect((await fetch(`${root.url}/healthz`)).status).toBe(200);
    } finally {
      await off.stop();
      await root.stop();
    }
  });
});
