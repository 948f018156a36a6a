/** The UI's pure parts: escaping, redirect targets after sign-in, session cookies, manifest views. */
import { describe, expect, it } from 'vitest';
import { referrerKind } from '../../src/ui/format.ts';
import { html, trusted } from '../../src/ui/html.ts';
import { configView, manifestView } from '../../src/ui/model.ts';
import { Paths } from '../../src/ui/paths.ts';
import { Sessions } from '../../src/ui/session.ts';
import { seconds } from '../../src/config/duration.ts';

describe('html', () => {
  it('escapes everything interpolated, in text and in quoted attributes, but not its own markup', () => {
    const hostile = `<img src=x onerror='a()'>"&`;
    expect(html`<p title="${hostile}">${hostile}</p>`.text).toBe(
      '<p title="&lt;img src=x onerror=&#39;a()&#39;&gt;&quot;&amp;">&lt;img src=x onerror=&#39;a()&#39;&gt;&quot;&amp;</p>',
    );
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`, 3, undefined, false]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>&lt;b&gt;</li>3</ul>');
    expect(html`${trusted('<br>')}`.text).toBe('<br>');
  });
});

describe('Paths.safeNext', () => {
  const paths = new Paths('/ui');
  it('keeps paths inside the UI and sends anything else home', () => {
    expect(paths.safeNext('/ui/repo/team/app')).toBe('/ui/repo/team/app');
    for (const next of [undefined, '', '//evil.example/ui/', 'https://evil.example/ui/', '/ui\\..\\evil', '/v2/_catalog', '/uix', 'javascript:alert(1)', '/ui/\r\nSet-Cookie: x=1']) {
      expect(paths.safeNext(next), String(next)).toBe('/ui/');
    }
  });
  it('at the root too', () => {
    const root = new Paths('/');
    expect(root.safeNext('/repo/a')).toBe('/repo/a');
    expect(root.safeNext('//evil.example')).toBe('/');
    expect(root.repo('team/app')).toBe('/repo/team/app');
    expect(root.manifest('team/app', 'sha256:ab')).toBe('/repo/team/app/-/manifest/sha256:ab');
  });
});

describe('Sessions', () => {
  it('reads back what it signed, and nothing altered, foreign or expired', () => {
    const sessions = new Sessions('a-secret-of-at-least-thirty-two-characters', seconds(60));
    const s = sessions.create('alice', 'stamp');
    const cookie = sessions.encode(s);
    expect(sessions.decode(cookie)).toEqual(s);
    const [payload, mac] = cookie.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ u: 'root', n: s.nonce, e: s.expires, s: 'stamp' })).toString('base64url');
    expect(sessions.decode(`${forged}.${mac}`)).toBeUndefined();
    expect(sessions.decode(`${payload}.${mac.slice(0, -1)}A`)).toBeUndefined();
    expect(sessions.decode(new Sessions('another-secret-of-at-least-thirty-two-chars', seconds(60)).encode(s))).toBeUndefined();
    expect(sessions.decode(sessions.encode({ ...s, expires: Date.now() - 1 }))).toBeUndefined();
    for (const junk of [undefined, '', '.', 'x.y', 'a'.repeat(5000)]) expect(sessions.decode(junk)).toBeUndefined();
  });

  it('derives CSRF tokens per session and checks them in constant time', () => {
    const sessions = new Sessions(undefined, seconds(60));
    const a = sessions.create();
    const b = sessions.create();
    expect(sessions.checkCsrf(a, sessions.csrfToken(a))).toBe(true);
    expect(sessions.checkCsrf(a, sessions.csrfToken(b))).toBe(false);
    expect(sessions.checkCsrf(a, undefined)).toBe(false);
    expect(sessions.checkCsrf(a, '')).toBe(false);
  });
});

describe('manifest and config views', () => {
  const enc = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));
  const digest = `sha256:${'a'.repeat(64)}`;

  it('takes only fields of the expected types', () => {
    const view = manifestView(
      enc({
        schemaVersion: 2,
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: 'x', digest: 'not a digest', size: 1 },
          { mediaType: 'x', digest, size: -5, platform: { os: 1 } },
        ],
        annotations: { b: '2', a: '1', n: 3 },
      }),
      'application/vnd.oci.image.index.v1+json',
    );
    expect(view?.kind).toBe('index');
    expect(view?.manifests.map((m) => [m.size, m.platform])).toEqual([
      [10, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
      [0, undefined],
    ]);
    expect(view?.annotations).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(manifestView(enc([1, 2]), 'application/vnd.oci.image.manifest.v1+json')).toBeUndefined();
    expect(manifestView(new TextEncoder().encode('{'), 'application/vnd.oci.image.manifest.v1+json')).toBeUndefined();
  });

  it('summarises an image config', () => {
    const config = configView(enc({ os: 'linux', architecture: 'amd64', config: { Entrypoint: ['/app'], Env: ['A=1', 2], Labels: { x: 'y' }, ExposedPorts: { '80/tcp': {} } }, history: [{}, {}] }));
    expect(config).toMatchObject({ platform: { os: 'linux', architecture: 'amd64' }, entrypoint: ['/app'], env: ['A=1'], labels: [['x', 'y']], exposedPorts: ['80/tcp'], history: 2 });
  });

  it('groups referrers by artifact type', () => {
    expect(referrerKind('application/vnd.dev.cosign.artifact.sig.v1+json')).toBe('signature');
    expect(referrerKind('application/vnd.cncf.notary.signature')).toBe('signature');
    expect(referrerKind('application/vnd.dev.sigstore.bundle.v0.3+json')).toBe('signature');
    expect(referrerKind('application/spdx+json')).toBe('sbom');
    expect(referrerKind('application/vnd.cyclonedx+json')).toBe('sbom');
    expect(referrerKind('application/vnd.in-toto+json')).toBe('attestation');
    expect(referrerKind('application/vnd.example.thing')).toBe('other');
    expect(referrerKind(undefined)).toBe('other');
  });
});
