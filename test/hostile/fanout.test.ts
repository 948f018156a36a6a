/**
 * Bounded fan-out (issue 12): a request over thousands of items (an index's children, a
 * subject's referrers, the tags of a deleted manifest) reads a few at a time, so with the server
 * held to 1024 file descriptors every answer is right and a client pulling something else
 * meanwhile never sees an error. Before, each item cost an open file at once: EMFILE, 500s for
 * everyone, and a subject whose referrers answered 500 on every request.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachBounded } from '../../src/registry/bounded.ts';
import { Client } from '../support/http.ts';
import {
  blob,
  descriptorOf,
  digestOf,
  errorCode,
  expectError,
  imageManifest,
  indexManifest,
  json,
  mediaTypes,
  pushBlob,
  pushImage,
  pushManifest,
  putManifest,
  type Descriptor,
} from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

/** How many of each: more than the descriptor limit, so one file per item at once cannot work. */
const many = 5000;
const fdLimit = 1024;
/** Pushes in flight while setting up: enough to be quick, few enough to stay under the limit. */
const pushers = 16;

const repo = 'fanout/app';
const signature = 'application/vnd.example.signature.v1';
const sbom = 'application/vnd.example.sbom.v1';

let server: TestServer;
let client: Client;
let subject: Descriptor;
/** The referrers of `subject`, which are also the children of the big index, by digest. */
const referrers = new Map<string, Descriptor>();

/** Another client pulls a small image from another repository the whole time. */
const puller = { pulls: 0, errors: [] as string[], stop: false, done: Promise.resolve() };

async function pullLoop(c: Client, image: { digest: string; config: string; layer: string }): Promise<void> {
  while (!puller.stop) {
    try {
      const manifest = await c.get('/v2/fanout/other/manifests/latest', { Accept: mediaTypes.ociManifest });
      if (manifest.status !== 200 || digestOf(manifest.body) !== image.digest) throw new Error(`manifest: ${manifest.status} ${manifest.text().slice(0, 200)}`);
      for (const digest of [image.config, image.layer]) {
        const res = await c.get(`/v2/fanout/other/blobs/${digest}`);
        if (res.status !== 200 || digestOf(res.body) !== digest) throw new Error(`blob ${digest}: ${res.status} ${res.text().slice(0, 200)}`);
      }
      puller.pulls++;
    } catch (e) {
      puller.errors.push(e instanceof Error ? e.message : String(e));
    }
  }
}

/** Every page of a listing, following `Link: <…>; rel="next"`; returns the pages' bodies. */
async function allPages<T>(first: string): Promise<T[]> {
  const pages: T[] = [];
  for (let target: string | undefined = first; target !== undefined; ) {
    const res = await client.get(target);
    expect(res.status, res.text().slice(0, 300)).toBe(200);
    pages.push(res.json<T>());
    target = /<([^>]+)>;\s*rel="next"/.exec(res.header('Link') ?? '')?.[1];
    expect(pages.length).toBeLessThan(100);
  }
  return pages;
}

beforeAll(async () => {
  // `exec` keeps the server's pid, so the limit and /proc/<pid>/limits are the server's own.
  server = await startServer({ wrap: ['sh', '-c', `ulimit -n ${fdLimit} && exec "$@"`, 'sh'], env: { BERTH_LOG__REQUESTS: 'false' } });
  client = new Client(server.url);

  const other = await pushImage(client, 'fanout/other', 'latest');
  const parsed = other.bytes.toString('utf8');
  const doc = JSON.parse(parsed) as { config: Descriptor; layers: Descriptor[] };
  puller.done = pullLoop(new Client(server.url), { digest: other.digest, config: doc.config.digest, layer: doc.layers[0]!.digest });

  const image = await pushImage(client, repo, 'subject');
  subject = image.descriptor;
  const config = json({});
  const layer = blob(64);
  await pushBlob(client, repo, config);
  await pushBlob(client, repo, layer);
  const artifacts = Array.from({ length: many }, (_, i) => {
    const artifactType = i % 2 === 0 ? signature : sbom;
    const annotations = { 'org.example.index': String(i) };
    const bytes = imageManifest({
      artifactType,
      config: descriptorOf(config, mediaTypes.ociEmpty),
      layers: [descriptorOf(layer, 'application/octet-stream')],
      subject,
      annotations,
    });
    return { bytes, descriptor: descriptorOf(bytes, mediaTypes.ociManifest, { artifactType, annotations }) };
  });
  await forEachBounded(artifacts, async ({ bytes, descriptor }) => {
    await pushManifest(client, repo, descriptor.digest, bytes);
    referrers.set(descriptor.digest, descriptor);
  }, pushers);
}, 600_000);

afterAll(async () => {
  puller.stop = true;
  await puller.done;
  await server?.stop();
});

describe(`with at most ${fdLimit} open files`, () => {
  it('the server really runs under the limit', async () => {
    const limits = await readFile(`/proc/${server.process.pid}/limits`, 'utf8');
    expect(limits).toMatch(new RegExp(`^Max open files\\s+${fdLimit}\\s`, 'm'));
  });

  it(`stores and serves an index of ${many} children`, async () => {
    const children = [...referrers.values()].map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));
    const index = indexManifest(children);
    await pushManifest(client, repo, 'everything', index, mediaTypes.ociIndex);
    const res = await client.get(`/v2/${repo}/manifests/everything`, { Accept: mediaTypes.ociIndex });
    expect(res.status).toBe(200);
    expect(digestOf(res.body)).toBe(digestOf(index));

    // Every child is still checked: one absent child among them is named.
    const absent = descriptorOf(json({ absent: true }), mediaTypes.ociManifest);
    const broken = await putManifest(client, repo, 'broken', indexManifest([...children, absent]), mediaTypes.ociIndex);
    expectError(broken, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(broken.json<{ errors: Array<{ detail: unknown }> }>().errors[0]?.detail).toEqual({ missing: [absent.digest], count: 1 });
  });

  it(`lists ${many} referrers of one subject, page by page, each with its descriptor`, async () => {
    const pages = await allPages<{ manifests: Descriptor[]; mediaType: string }>(`/v2/${repo}/referrers/${subject.digest}`);
    expect(pages.length).toBe(Math.ceil(many / 1000));
    const listed = pages.flatMap((p) => p.manifests);
    expect(listed.map((d) => d.digest)).toEqual([...referrers.keys()].sort());
    expect(listed).toEqual(listed.map((d) => referrers.get(d.digest)));

    // A second time comes from memory, and must say the same.
    const again = await allPages<{ manifests: Descriptor[] }>(`/v2/${repo}/referrers/${subject.digest}`);
    expect(again.flatMap((p) => p.manifests)).toEqual(listed);
  });

  it('filters them by artifactType across pages of n', async () => {
    const pages = await allPages<{ manifests: Descriptor[] }>(`/v2/${repo}/referrers/${subject.digest}?artifactType=${encodeURIComponent(sbom)}&n=600`);
    expect(pages.length).toBe(Math.ceil(many / 2 / 600));
    const listed = pages.flatMap((p) => p.manifests);
    const expected = [...referrers.values()].filter((d) => d.artifactType === sbom).map((d) => d.digest).sort();
    expect(listed.map((d) => d.digest)).toEqual(expected);
  });

  it('no longer lists a deleted referrer, and lists a new one', async () => {
    const [gone] = [...referrers.keys()].sort();
    expect((await client.delete(`/v2/${repo}/manifests/${gone}`)).status).toBe(202);
    const bytes = imageManifest({ artifactType: signature, config: descriptorOf(json({}), mediaTypes.ociEmpty), subject, annotations: { 'org.example.index': 'late' } });
    const late = await pushManifest(client, repo, digestOf(bytes), bytes);
    const listed = (await allPages<{ manifests: Descriptor[] }>(`/v2/${repo}/referrers/${subject.digest}`)).flatMap((p) => p.manifests.map((d) => d.digest));
    expect(listed).not.toContain(gone);
    expect(listed).toContain(late.digest);
    expect(listed.length).toBe(many);
  });

  it(`deletes a manifest that ${many} tags point at, with all its tags`, async () => {
    const tags = Array.from({ length: many }, (_, i) => `t-${String(i).padStart(4, '0')}`);
    const target = await pushImage(client, repo, 'keep');
    await forEachBounded(
      Array.from({ length: Math.ceil(many / 100) }, (_, i) => tags.slice(i * 100, (i + 1) * 100)),
      async (batch) => {
        const res = await putManifest(client, repo, `${target.digest}?${batch.map((t) => `tag=${t}`).join('&')}`, target.bytes, mediaTypes.ociManifest);
        expect(res.status, res.text()).toBe(201);
      },
      4,
    );
    const before = (await allPages<{ tags: string[] }>(`/v2/${repo}/tags/list`)).flatMap((p) => p.tags);
    expect(before).toEqual(expect.arrayContaining([...tags, 'keep', 'subject', 'everything']));

    expect((await client.delete(`/v2/${repo}/manifests/${target.digest}`)).status).toBe(202);
    const after = (await allPages<{ tags: string[] }>(`/v2/${repo}/tags/list`)).flatMap((p) => p.tags);
    expect(after.sort()).toEqual(['everything', 'subject']);
    expect(errorCode(await client.get(`/v2/${repo}/manifests/${tags[1234]}`))).toBe('MANIFEST_UNKNOWN');
  });

  it('meanwhile, the other client pulled without a single error', async () => {
    puller.stop = true;
    await puller.done;
    expect(puller.errors.slice(0, 5)).toEqual([]);
    expect(puller.pulls).toBeGreaterThan(0);
    expect(server.logs()).not.toMatch(/EMFILE|too many open files/i);
  });
});
