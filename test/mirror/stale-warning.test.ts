/**
 * The spec's `Warning` (distribution-spec: Warnings) on every answer the mirror serves stale:
 * `299 - "<text>"`, the text a proper quoted-string, the whole field within 4096 bytes whatever
 * the upstream sent; and the tag list an upstream cannot give.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.ts';
import { mediaType, pushHttpImage, putManifest, writeConfig } from '../support/mirror.ts';
import { startServer, type TestServer } from '../support/server.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** RFC 9110's quoted-string over printable ASCII. */
const quoted = /^"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"$/;

describe('stale answers carry the spec’s Warning', () => {
  let upstream: TestServer;
  let proxy: FaultProxy;
  let mirror: TestServer;

  beforeAll(async () => {
    upstream = await startServer();
    proxy = await startFaultProxy(upstream.url);
    const config = await writeConfig(['mirror:', '  upstreams:', `    - { name: up, url: "${proxy.url}", prefix: up, tagTtl: 1 }`, ''].join('\n'));
    mirror = await startServer({ args: ['--config', config] });
    const image = await pushHttpImage(upstream.url, 'team/app', [randomBytes(10_000)]);
    for (const tag of ['v1', 'v2']) {
      const bytes = await (await fetch(`${upstream.url}/v2/team/app/manifests/${image.digest}`)).text();
      await putManifest(upstream.url, 'team/app', tag, JSON.parse(bytes), mediaType.ociManifest);
    }
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(mirror?.logs());
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
  });

  it('lists the tags it holds, with a Warning, when the upstream cannot list them', async () => {
    const url = `${mirror.url}/v2/up/team/app/tags/list`;
    const live = await fetch(url);
    expect(live.status).toBe(200);
    expect(live.headers.get('warning')).toBeNull();
    expect(await live.json()).toEqual({ name: 'up/team/app', tags: ['v1', 'v2'] });
    // Only v1 is held here: pulled through the mirror.
    expect((await fetch(`${mirror.url}/v2/up/team/app/manifests/v1`, { headers: { Accept: mediaType.ociManifest } })).status).toBe(200);
    proxy.fault = () => ({ kind: 'status', status: 503 });
    try {
      const stale = await fetch(url);
      expect(stale.status).toBe(200);
      expect(stale.headers.get('warning')).toBe('299 - "Response is stale: upstream up answered 503"');
      expect(await stale.json()).toEqual({ name: 'up/team/app', tags: ['v1'] });
      // Nothing held: no list to offer, the upstream's failure instead of an empty one.
      const none = await fetch(`${mirror.url}/v2/up/team/other/tags/list`);
      expect(none.status).toBe(503);
      expect(((await none.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNAVAILABLE');
    } finally {
      proxy.reset();
    }
  });

  it('keeps the field within 4096 bytes and escapes what the upstream put in the reason', async () => {
    const url = `${mirror.url}/v2/up/team/app/manifests/v1`;
    await sleep(1_100);
    // The tag moved upstream (HEAD names another digest), and the new manifest has a media type of
    // 20,000 quotes and backslashes: berth cannot use it, and serves what it has, saying why.
    const hostile = JSON.stringify({ schemaVersion: 2, mediaType: `x/${'"\\'.repeat(10_000)}`, config: {}, layers: [] });
    proxy.fault = (r): Fault | undefined =>
      r.path.endsWith('/manifests/v1')
        ? r.method === 'HEAD'
          ? { kind: 'status', status: 200, headers: { 'Docker-Content-Digest': `sha256:${'a'.repeat(64)}` } }
          : { kind: 'status', status: 200, headers: { 'Content-Type': 'application/json' }, body: hostile }
        : undefined;
    try {
      const res = await fetch(url, { headers: { Accept: mediaType.ociManifest } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const warning = res.headers.get('warning') ?? '';
      expect(warning.startsWith('299 - "Response is stale: upstream up sent a manifest berth cannot use: ')).toBe(true);
      expect(warning).toContain('x/\\"\\\\\\"\\\\');
      expect(warning.endsWith('..."')).toBe(true);
      expect(warning.slice('299 - '.length)).toMatch(quoted);
      expect(Buffer.byteLength(`Warning: ${warning}`)).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(`Warning: ${warning}`)).toBeGreaterThan(4000);
    } finally {
      proxy.reset();
    }
  });
});
