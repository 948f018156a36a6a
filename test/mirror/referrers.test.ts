/**
 * Referrers of mirrored content (issue 16). oras, cosign and notation are not packaged in Debian
 * bookworm, so the attach and discover flows are the spec's own requests, made here over HTTP as
 * oras makes them: an artifact manifest with a `subject` pushed to the upstream (a berth with the
 * referrers API, or CNCF distribution 2.8.2, which has none: then the client also pushes the
 * referrers tag schema's index), then `GET /v2/<name>/referrers/<digest>` and pulls through the
 * mirror; skopeo then copies a discovered signature through the mirror, as `oras pull` would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { hasTool } from '../support/auth.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { fetchVerified, mediaType, pushBlob, pushHttpImage, putManifest, sha256, writeConfig, type Descriptor } from '../support/mirror.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { hasSkopeo, skopeo } from '../support/skopeo.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// CI installs docker-registry; elsewhere the suite needs it.
const describeMirror = (await hasTool('docker-registry')) || process.env.CI ? describe : describe.skip;

const types = {
  signature: 'application/vnd.cncf.notary.signature',
  sbom: 'application/spdx+json',
  attestation: 'application/vnd.in-toto+json',
} as const;

interface Referrer extends Descriptor {
  artifactType: string;
  annotations: Record<string, string>;
  /** The payload blob's digest. */
  payload: string;
}

interface Listing {
  status: number;
  warning: string | null;
  filters: string | null;
  link: string | null;
  contentType: string | null;
  manifests: Array<Record<string, unknown>>;
  errors?: Array<{ code: string }>;
}

/** `oras attach`: the empty config, a payload layer, and a manifest whose `subject` is the image; pushed by digest. */
async function attach(registry: string, repo: string, subject: Descriptor, artifactType: string, note: string): Promise<Referrer> {
  const empty = new TextEncoder().encode('{}');
  const emptyDigest = await pushBlob(registry, repo, empty);
  const payload = new TextEncoder().encode(JSON.stringify({ note, nonce: randomBytes(8).toString('hex') }));
  const payloadDigest = await pushBlob(registry, repo, payload);
  const annotations = { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', 'test.note': note };
  const manifest = {
    schemaVersion: 2,
    mediaType: mediaType.ociManifest,
    artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: empty.byteLength },
    layers: [{ mediaType: artifactType, digest: payloadDigest, size: payload.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const pushed = await putManifest(registry, repo, undefined, manifest, mediaType.ociManifest);
  return { ...pushed, artifactType, annotations, payload: payloadDigest };
}

/** `oras discover`: the referrers API. */
async function discover(registry: string, repo: string, subject: string, query = ''): Promise<Listing> {
  const res = await fetch(`${registry}/v2/${repo}/referrers/${subject}${query}`);
  const body = (await res.json()) as { manifests?: Array<Record<string, unknown>>; errors?: Array<{ code: string }> };
  return {
    status: res.status,
    warning: res.headers.get('warning'),
    filters: res.headers.get('oci-filters-applied'),
    link: res.headers.get('link'),
    contentType: res.headers.get('content-type'),
    manifests: body.manifests ?? [],
    ...(body.errors && { errors: body.errors }),
  };
}

/** The descriptor the referrers API lists for a referrer. */
const listed = (r: Referrer): Record<string, unknown> => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, artifactType: r.artifactType, annotations: r.annotations });
const byDigest = (list: Array<Record<string, unknown>>): Array<Record<string, unknown>> => [...list].sort((a, b) => String(a.digest).localeCompare(String(b.digest)));

describeMirror('referrers of mirrored content', () => {
  let upstream: TestServer;
  let distribution: Distribution;
  let up: FaultProxy;
  let dist: FaultProxy;
  let mirror: TestServer;
  let configFile: string;
  let dataDir: string;

  const start = async (): Promise<TestServer> => startServer({ args: ['--config', configFile], dataDir });

  beforeAll(async () => {
    // The upstream takes a thousand small pushes below: no fsync for it.
    upstream = await startServer({ env: { BERTH_STORAGE__FS__FSYNC: 'false', BERTH_LOG__REQUESTS: 'false' } });
    distribution = await startDistribution();
    up = await startFaultProxy(upstream.url);
    dist = await startFaultProxy(distribution.url);
    configFile = await writeConfig(
      [
        'mirror:',
        '  timeouts: { connect: 1, headers: 2, body: 3 }',
        '  upstreams:',
        `    - { name: up, url: "${up.url}", prefix: up, tagTtl: 1 }`,
        `    - { name: dist, url: "${dist.url}", prefix: dist, tagTtl: 1 }`,
        '',
      ].join('\n'),
    );
    dataDir = await mkdtemp(join(tmpdir(), 'berth-referrers-'));
    mirror = await start();
  });

  afterAll(async () => {
    if (process.env.MIRROR_LOGS) console.log(mirror?.logs());
    await mirror?.stop();
    await up?.close();
    await dist?.close();
    await upstream?.stop();
    await distribution?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('an upstream with the referrers API (berth)', () => {
    let subject: Descriptor;
    let signature: Referrer;
    let sbom: Referrer;

    beforeAll(async () => {
      subject = await pushHttpImage(upstream.url, 'team/app', [randomBytes(50_000)]);
      signature = await attach(upstream.url, 'team/app', subject, types.signature, 'signed');
      sbom = await attach(upstream.url, 'team/app', subject, types.sbom, 'bill of materials');
    });

    it('discovers what the upstream lists, with artifactType and annotations, then answers from its cache within the TTL', async () => {
      up.reset();
      const first = await discover(mirror.url, 'up/team/app', subject.digest);
      expect(first).toMatchObject({ status: 200, warning: null, filters: null, contentType: mediaType.ociIndex });
      expect(byDigest(first.manifests)).toEqual(byDigest([listed(signature), listed(sbom)]));
      expect(up.count('GET', `/v2/team/app/referrers/${subject.digest}`)).toBe(1);

      up.reset();
      const again = await discover(mirror.url, 'up/team/app', subject.digest);
      expect(byDigest(again.manifests)).toEqual(byDigest(first.manifests));
      // Filtered here, from the cached list: the upstream is not asked, the filter is declared.
      const sboms = await discover(mirror.url, 'up/team/app', subject.digest, `?artifactType=${encodeURIComponent(types.sbom)}`);
      expect(sboms).toMatchObject({ status: 200, filters: 'artifactType' });
      expect(sboms.manifests).toEqual([listed(sbom)]);
      expect(up.requests).toEqual([]);
      // Pages are cut here too, the filter carried in the Link.
      const firstPage = await discover(mirror.url, 'up/team/app', subject.digest, '?n=1');
      expect(firstPage.manifests).toHaveLength(1);
      expect(firstPage.link).toMatch(/^<\/v2\/up\/team\/app\/referrers\/sha256:[a-f0-9]{64}\?n=1&last=sha256%3A[a-f0-9]{64}>; rel="next"$/);
    });

    it('pulls the referrer manifests and their blobs through the mirror, stored on the way', async () => {
      up.reset();
      for (const r of [signature, sbom]) {
        await fetchVerified(mirror.url, 'up/team/app', 'manifests', r.digest);
        await fetchVerified(mirror.url, 'up/team/app', 'blobs', r.payload);
      }
      expect(up.count('GET', `/manifests/${signature.digest}`)).toBe(1);
      expect(up.count('GET', `/blobs/${signature.payload}`)).toBe(1);
      up.reset();
      for (const r of [signature, sbom]) {
        await fetchVerified(mirror.url, 'up/team/app', 'manifests', r.digest);
        await fetchVerified(mirror.url, 'up/team/app', 'blobs', r.payload);
      }
      expect(up.requests).toEqual([]);
    });

    it('asks again after the TTL and sees what was attached since', async () => {
      const attestation = await attach(upstream.url, 'team/app', subject, types.attestation, 'provenance');
      await sleep(1_100);
      up.reset();
      const now = await discover(mirror.url, 'up/team/app', subject.digest);
      expect(byDigest(now.manifests)).toEqual(byDigest([listed(signature), listed(sbom), listed(attestation)]));
      expect(up.count('GET', '/referrers/')).toBe(1);
    });

    it('serves the last list with the spec’s Warning while the upstream fails', async () => {
      const before = await discover(mirror.url, 'up/team/app', subject.digest);
      for (const fault of [{ kind: 'status', status: 503 }, { kind: 'status', status: 429 }, { kind: 'reset' }] as const) {
        await sleep(1_100);
        up.fault = () => fault;
        const stale = await discover(mirror.url, 'up/team/app', subject.digest);
        expect(stale.status, JSON.stringify(fault)).toBe(200);
        expect(byDigest(stale.manifests)).toEqual(byDigest(before.manifests));
        if (fault.kind === 'status') expect(stale.warning).toBe(`299 - "Response is stale: upstream up ${fault.status === 429 ? 'is rate limiting' : 'answered 503'}"`);
        else expect(stale.warning).toMatch(/^299 - "Response is stale: upstream up is unavailable: [a-z ]+"$/);
        // Filtered stale answers say both.
        const filtered = await discover(mirror.url, 'up/team/app', subject.digest, `?artifactType=${encodeURIComponent(types.signature)}`);
        expect(filtered).toMatchObject({ status: 200, filters: 'artifactType' });
        expect(filtered.warning).toMatch(/^299 - "Response is stale: /);
        expect(filtered.manifests).toEqual([listed(signature)]);
      }
      up.reset();
    });

    it('answers 503 for a subject it knows nothing of while the upstream is down', async () => {
      up.fault = () => ({ kind: 'status', status: 503 });
      try {
        const unknown = await discover(mirror.url, 'up/team/app', sha256(randomBytes(8)));
        expect(unknown.status).toBe(503);
        expect(unknown.errors?.[0]?.code).toBe('UNAVAILABLE');
      } finally {
        up.reset();
      }
    });

    it('after a restart with the upstream down, lists the referrers it holds (those pulled through it), stale', async () => {
      await mirror.stop();
      mirror = await start();
      up.fault = () => ({ kind: 'reset' });
      try {
        const held = await discover(mirror.url, 'up/team/app', subject.digest);
        expect(held.status).toBe(200);
        expect(held.warning).toMatch(/^299 - "Response is stale: upstream up is unavailable: /);
        // The signature and the SBOM were pulled through the mirror; the attestation never was.
        expect(byDigest(held.manifests)).toEqual(byDigest([listed(signature), listed(sbom)]));
      } finally {
        up.reset();
      }
    });

    it('follows the upstream’s pages (more than its 1000 per page) and pages the whole list itself', async () => {
      const many = await pushHttpImage(upstream.url, 'team/many', [randomBytes(1_000)]);
      // One payload for all: what differs is each manifest's annotation, so each has its own digest.
      const one = await attach(upstream.url, 'team/many', many, types.signature, 'first');
      const pushed = [one.digest];
      const template = JSON.parse(await (await fetch(`${upstream.url}/v2/team/many/manifests/${one.digest}`)).text()) as { annotations: Record<string, string> };
      const queue = Array.from({ length: 1_000 }, (_, i) => i);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
            const manifest = structuredClone(template);
            manifest.annotations['test.note'] = `s${i}`;
            pushed.push((await putManifest(upstream.url, 'team/many', undefined, manifest, mediaType.ociManifest)).digest);
          }
        }),
      );
      up.reset();
      const seen: string[] = [];
      let query = '?n=400';
      for (let pages = 0; pages < 10; pages++) {
        const page = await discover(mirror.url, 'up/team/many', many.digest, query);
        expect(page.status).toBe(200);
        seen.push(...page.manifests.map((m) => String(m.digest)));
        if (!page.link) break;
        query = `?${new URL(/<([^>]+)>/.exec(page.link)![1]!, mirror.url).searchParams}`;
      }
      expect(seen.sort()).toEqual(pushed.sort());
      // Two upstream pages, read once: the mirror's own pages come from its cache.
      expect(up.count('GET', '/referrers/')).toBe(2);
      expect(up.requests.filter((r) => r.path.includes('/referrers/'))[1]?.path).toContain('last=');
    });

    it.skipIf(!hasSkopeo && !process.env.CI)('a real client (skopeo) copies a discovered signature, manifest and payload, through the mirror', async () => {
      const app = await pushHttpImage(upstream.url, 'team/skopeo', [randomBytes(2_000)]);
      const signed = await attach(upstream.url, 'team/skopeo', app, types.signature, 'for skopeo');
      const found = await discover(mirror.url, 'up/team/skopeo', app.digest, `?artifactType=${encodeURIComponent(types.signature)}`);
      expect(found.manifests).toEqual([listed(signed)]);
      up.reset();
      const out = join(dataDir, '..', `berth-referrers-skopeo-${randomBytes(4).toString('hex')}`);
      try {
        await skopeo('copy', '--src-tls-verify=false', `docker://${new URL(mirror.url).host}/up/team/skopeo@${signed.digest}`, `oci:${out}:sig`);
        const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
        expect(index.manifests[0]?.digest).toBe(signed.digest);
        expect((await readFile(join(out, 'blobs', 'sha256', signed.payload.slice('sha256:'.length)), 'utf8'))).toContain('for skopeo');
      } finally {
        await rm(out, { recursive: true, force: true });
      }
      expect(up.count('GET', `/manifests/${signed.digest}`)).toBe(1);
      expect(up.count('GET', `/blobs/${signed.payload}`)).toBe(1);
    });
  });

  describe('an upstream without it (distribution 2.8.2): the referrers tag schema', () => {
    let subject: Descriptor;
    let signature: Referrer;

    beforeAll(async () => {
      subject = await pushHttpImage(distribution.url, 'team/app', [randomBytes(50_000)]);
      signature = await attach(distribution.url, 'team/app', subject, types.signature, 'signed on distribution');
      // What oras and cosign do on a registry whose referrers API answers 404: the index at `sha256-<hex>`.
      expect((await fetch(`${distribution.url}/v2/team/app/referrers/${subject.digest}`)).status).toBe(404);
      await putManifest(distribution.url, 'team/app', subject.digest.replace(':', '-'), { schemaVersion: 2, mediaType: mediaType.ociIndex, manifests: [listed(signature)] }, mediaType.ociIndex);
    });

    it('falls back to the sha256-<hex> tag upstream, as clients do, and counts it', async () => {
      const metric = async (): Promise<number> => {
        const text = await (await fetch(`${mirror.url}/metrics`)).text();
        return Number(/^berth_mirror_referrers_fallbacks_total\{upstream="dist"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      };
      const before = await metric();
      dist.reset();
      const found = await discover(mirror.url, 'dist/team/app', subject.digest);
      expect(found).toMatchObject({ status: 200, warning: null });
      expect(found.manifests).toEqual([listed(signature)]);
      expect(dist.count('GET', `/referrers/${subject.digest}`)).toBe(1);
      expect(dist.count('GET', `/manifests/${subject.digest.replace(':', '-')}`)).toBe(1);
      expect(await metric()).toBe(before + 1);
      // The signature itself comes through the mirror as any manifest does.
      await fetchVerified(mirror.url, 'dist/team/app', 'manifests', signature.digest);
      await fetchVerified(mirror.url, 'dist/team/app', 'blobs', signature.payload);
    });

    it('sees a referrer added to the tag’s index after the TTL', async () => {
      const sbom = await attach(distribution.url, 'team/app', subject, types.sbom, 'sbom on distribution');
      await putManifest(distribution.url, 'team/app', subject.digest.replace(':', '-'), { schemaVersion: 2, mediaType: mediaType.ociIndex, manifests: [listed(signature), listed(sbom)] }, mediaType.ociIndex);
      await sleep(1_100);
      const found = await discover(mirror.url, 'dist/team/app', subject.digest, `?artifactType=${encodeURIComponent(types.sbom)}`);
      expect(found).toMatchObject({ status: 200, filters: 'artifactType' });
      expect(found.manifests).toEqual([listed(sbom)]);
    });

    it('lists nothing for a subject without that tag', async () => {
      const lone = await pushHttpImage(distribution.url, 'team/lone', [randomBytes(1_000)]);
      const found = await discover(mirror.url, 'dist/team/lone', lone.digest);
      expect(found).toMatchObject({ status: 200, warning: null, contentType: mediaType.ociIndex, manifests: [] });
    });
  });
});
