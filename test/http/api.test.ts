/**
 * The OCI Distribution Spec end to end on a running berth: what a client sees on the wire.
 * Every test uses its own repositories, so the order of tests does not matter.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from '../support/http.ts';
import {
  absentDigest,
  blob,
  descriptorOf,
  digestOf,
  expectError,
  hexOf,
  imageManifest,
  indexManifest,
  json,
  mediaTypes,
  pushBlob,
  pushImage,
  pushManifest,
  putManifest,
  repoName,
  type Descriptor,
} from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: Client;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
});

afterAll(async () => {
  await server?.stop();
});

// ---- small helpers ------------------------------------------------------------------------------

function header(res: Reply, name: string): string {
  const value = res.header(name);
  expect(value, `${name} header`).toBeDefined();
  return value ?? '';
}

/** Appends a query parameter to a Location as given (it may already carry a query). */
const withQuery = (location: string, key: string, value: string): string =>
  `${location}${location.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;

/** POST a new upload session; returns its Location. */
async function startUpload(repo: string, query = ''): Promise<string> {
  const res = await client.request('POST', `/v2/${repo}/blobs/uploads/${query}`);
  expect(res.status, res.text()).toBe(202);
  return header(res, 'Location');
}

/** PATCH one chunk; with `start`, as `Content-Range: start-end`. */
function patch(location: string, bytes: Uint8Array, start?: number): Promise<Reply> {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (start !== undefined) headers['Content-Range'] = `${start}-${start + bytes.byteLength - 1}`;
  return client.request('PATCH', location, { headers, body: bytes });
}

/** PATCH that must be accepted; returns the next Location after checking `Range`. */
async function patchOk(location: string, bytes: Uint8Array, start?: number, expectedEnd?: number): Promise<string> {
  const res = await patch(location, bytes, start);
  expect(res.status, res.text()).toBe(202);
  if (expectedEnd !== undefined) expect(res.header('Range')).toBe(`0-${expectedEnd}`);
  return header(res, 'Location');
}

/** Closes an upload with PUT `?digest=`, optionally carrying the last chunk. */
function finish(location: string, digest: string, last?: Uint8Array): Promise<Reply> {
  const opts = last === undefined ? {} : { body: last, headers: { 'Content-Type': 'application/octet-stream' } };
  return client.request('PUT', withQuery(location, 'digest', digest), opts);
}

function expectCreatedBlob(res: Reply, repo: string, digest: string): void {
  expect(res.status, res.text()).toBe(201);
  expect(res.header('Docker-Content-Digest')).toBe(digest);
  expect(new URL(header(res, 'Location'), client.base).pathname).toBe(`/v2/${repo}/blobs/${digest}`);
}

async function expectBlob(repo: string, digest: string, bytes: Uint8Array): Promise<void> {
  const res = await client.get(`/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  expect(res.header('Docker-Content-Digest')).toBe(digest);
  expect(res.body.equals(Buffer.from(bytes))).toBe(true);
}

async function expectNoBlob(repo: string, digest: string): Promise<void> {
  expectError(await client.get(`/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
}

/** Splits bytes into `n` nearly equal chunks with their start offsets. */
function chunks(bytes: Buffer, n: number): Array<[start: number, part: Buffer]> {
  const size = Math.ceil(bytes.byteLength / n);
  return Array.from({ length: n }, (_, i) => [i * size, bytes.subarray(i * size, (i + 1) * size)]);
}

const manifestPath = (repo: string, reference: string): string => `/v2/${repo}/manifests/${reference}`;

// ---- the API ------------------------------------------------------------------------------------

describe('API version check', () => {
  it('GET /v2/ answers 200 with the distribution API version header', async () => {
    const res = await client.get('/v2/');
    expect(res.status).toBe(200);
    expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
  });

  it('errors and HEAD answers carry the API version header too', async () => {
    const repo = repoName('version');
    for (const res of [await client.get(`/v2/${repo}/tags/list`), await client.head(`/v2/${repo}/blobs/${absentDigest()}`)]) {
      expect(res.status).toBe(404);
      expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
    }
  });
});

describe('blob uploads', () => {
  it('POST then a monolithic PUT', async () => {
    const repo = repoName('mono');
    const bytes = blob(4096);
    const location = await startUpload(repo);
    const digest = digestOf(bytes);
    expectCreatedBlob(await finish(location, digest, bytes), repo, digest);
    await expectBlob(repo, digest, bytes);
  });

  it('POST ?digest= uploads in a single request', async () => {
    const repo = repoName('single');
    const bytes = blob(2048);
    const digest = digestOf(bytes);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expectCreatedBlob(res, repo, digest);
    await expectBlob(repo, digest, bytes);
  });

  it('advertises OCI-Chunk-Min-Length when a session starts', async () => {
    const res = await client.request('POST', `/v2/${repoName('minlen')}/blobs/uploads/`);
    expect(res.status).toBe(202);
    expect(header(res, 'OCI-Chunk-Min-Length')).toMatch(/^[1-9]\d*$/);
  });

  it('chunked PATCHes with Content-Range, status in between, last chunk on the PUT', async () => {
    const repo = repoName('chunked');
    const bytes = blob(3 * 1000 + 7);
    const [first, second, third] = chunks(bytes, 3);
    if (!first || !second || !third) throw new Error('three chunks');
    let location = await startUpload(repo);
    location = await patchOk(location, first[1], first[0], first[1].byteLength - 1);
    // The Location is followed exactly as given (a relative reference resolves against the registry).
    expect(new URL(location, client.base).pathname).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));

    const status = await client.get(location);
    expect(status.status).toBe(204);
    expect(status.header('Range')).toBe(`0-${first[1].byteLength - 1}`);
    expect(status.header('Location')).toBeDefined();

    location = await patchOk(location, second[1], second[0], third[0] - 1);
    const digest = digestOf(bytes);
    expectCreatedBlob(await finish(location, digest, third[1]), repo, digest);
    await expectBlob(repo, digest, bytes);
  });

  it('an out-of-order chunk is 416 with Range and Location, and the session goes on', async () => {
    const repo = repoName('ooo');
    const bytes = blob(300);
    let location = await startUpload(repo);
    location = await patchOk(location, bytes.subarray(0, 100), 0, 99);
    const res = await patch(location, bytes.subarray(150, 200), 150);
    expect(res.status).toBe(416);
    expect(res.header('Range')).toBe('0-99');
    const resume = header(res, 'Location');
    location = await patchOk(resume, bytes.subarray(100, 200), 100, 199);
    const digest = digestOf(bytes);
    expectCreatedBlob(await finish(location, digest, bytes.subarray(200)), repo, digest);
  });

  it('PATCH without Content-Range appends a streamed body', async () => {
    const repo = repoName('stream');
    const bytes = blob(64 * 1024);
    let location = await startUpload(repo);
    for (const [start, part] of chunks(bytes, 2)) {
      const res = await client.request('PATCH', location, { body: part, chunked: 8 });
      expect(res.status, res.text()).toBe(202);
      expect(res.header('Range')).toBe(`0-${start + part.byteLength - 1}`);
      location = header(res, 'Location');
    }
    const digest = digestOf(bytes);
    expectCreatedBlob(await finish(location, digest), repo, digest);
    await expectBlob(repo, digest, bytes);
  });

  it('a zero-byte blob, by session and by single POST', async () => {
    const repo = repoName('empty');
    const empty = Buffer.alloc(0);
    const digest = digestOf(empty);
    expectCreatedBlob(await finish(await startUpload(repo), digest), repo, digest);
    await expectBlob(repo, digest, empty);
    const head = await client.head(`/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.header('Content-Length')).toBe('0');

    const other = repoName('empty');
    expectCreatedBlob(await client.request('POST', `/v2/${other}/blobs/uploads/?digest=${digest}`), other, digest);
  });

  it('a digest that does not match is 400 DIGEST_INVALID and nothing is stored under it', async () => {
    const repo = repoName('mismatch');
    const bytes = blob(500);
    const claimed = absentDigest();
    const location = await startUpload(repo);
    await patchOk(location, bytes, 0);
    expectError(await finish(location, claimed), 400, 'DIGEST_INVALID');
    await expectNoBlob(repo, claimed);
    await expectNoBlob(repo, digestOf(bytes));

    const single = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${claimed}`, { body: bytes });
    expectError(single, 400, 'DIGEST_INVALID');
    await expectNoBlob(repo, claimed);
  });

  it('sha512 via ?digest-algorithm=sha512 on a session', async () => {
    const repo = repoName('sha512');
    const bytes = blob(1000);
    const location = await patchOk(await startUpload(repo, '?digest-algorithm=sha512'), bytes, 0, 999);
    const digest = digestOf(bytes, 'sha512');
    expectCreatedBlob(await finish(location, digest), repo, digest);
    await expectBlob(repo, digest, bytes);
  });

  it('sha512 via POST ?digest=sha512:...', async () => {
    const repo = repoName('sha512');
    const bytes = blob(1000);
    const digest = await pushBlob(client, repo, bytes, 'sha512');
    await expectBlob(repo, digest, bytes);
  });

  it('an unsupported algorithm is 400 DIGEST_INVALID', async () => {
    const repo = repoName('md5');
    expectError(await client.request('POST', `/v2/${repo}/blobs/uploads/?digest-algorithm=md5`), 400, 'DIGEST_INVALID');
    const bytes = blob(10);
    const md5 = `md5:${hexOf(bytes).slice(0, 32)}`;
    expectError(await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${md5}`, { body: bytes }), 400, 'DIGEST_INVALID');
  });

  it('DELETE cancels a session: 204, then the session is BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = repoName('cancel');
    const location = await patchOk(await startUpload(repo), blob(100), 0);
    const res = await client.delete(location);
    expect(res.status).toBe(204);
    expectError(await client.get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await patch(location, blob(10)), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('an upload id is unknown under another repository', async () => {
    const repo = repoName('owner');
    const bytes = blob(100);
    const location = await startUpload(repo);
    const path = new URL(location, client.base).pathname;
    const elsewhere = path.replace(`/v2/${repo}/`, `/v2/${repoName('thief')}/`);
    expectError(await client.get(elsewhere), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await patch(elsewhere, bytes, 0), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await finish(elsewhere, digestOf(bytes), bytes), 404, 'BLOB_UPLOAD_UNKNOWN');
    // The owner's session is untouched.
    expectCreatedBlob(await finish(location, digestOf(bytes), bytes), repo, digestOf(bytes));
  });
});

describe('cross-repository mounts', () => {
  it('?mount=&from= links the blob: 201 with Location and Docker-Content-Digest', async () => {
    const [source, target] = [repoName('mount-src'), repoName('mount-dst')];
    const bytes = blob(700);
    const digest = await pushBlob(client, source, bytes);
    const res = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
    expectCreatedBlob(res, target, digest);
    await expectBlob(target, digest, bytes);
  });

  it('a mount from a repository without the blob falls back to a new session (202)', async () => {
    const [holder, empty, target] = [repoName('mount-has'), repoName('mount-lacks'), repoName('mount-dst')];
    const bytes = blob(700);
    const digest = await pushBlob(client, holder, bytes);
    await pushBlob(client, empty, blob(10));
    const res = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}&from=${empty}`);
    expect(res.status).toBe(202);
    const location = header(res, 'Location');
    expect(new URL(location, client.base).pathname).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/[^/]+$`));
    await expectNoBlob(target, digest);
    expectCreatedBlob(await finish(location, digest, bytes), target, digest);
  });

  it('an anonymous mount (no from) of a stored blob is 201', async () => {
    const [source, target] = [repoName('anon-src'), repoName('anon-dst')];
    const bytes = blob(300);
    const digest = await pushBlob(client, source, bytes);
    expectCreatedBlob(await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}`), target, digest);
    await expectBlob(target, digest, bytes);
  });
});

describe('blob reads', () => {
  const repo = repoName('reads');
  const bytes = blob(100);
  const digest = digestOf(bytes);
  const path = `/v2/${repo}/blobs/${digest}`;

  beforeAll(async () => {
    await pushBlob(client, repo, bytes);
  });

  it('GET carries Docker-Content-Digest, Content-Length and Content-Type', async () => {
    const res = await client.get(path);
    expect(res.status).toBe(200);
    expect(res.header('Docker-Content-Digest')).toBe(digest);
    expect(res.header('Content-Length')).toBe('100');
    expect(res.header('Content-Type')).toBeTruthy();
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('HEAD has the headers and no body', async () => {
    const res = await client.head(path);
    expect(res.status).toBe(200);
    expect(res.header('Docker-Content-Digest')).toBe(digest);
    expect(res.header('Content-Length')).toBe('100');
    expect(res.body.byteLength).toBe(0);
  });

  it.each([
    ['bytes=0-3', 0, 3],
    ['bytes=5-', 5, 99],
    ['bytes=-4', 96, 99],
  ])('Range %s is 206 with its Content-Range', async (range, start, end) => {
    const res = await client.get(path, { Range: range });
    expect(res.status).toBe(206);
    expect(res.header('Content-Range')).toBe(`bytes ${start}-${end}/100`);
    expect(res.header('Content-Length')).toBe(String(end - start + 1));
    expect(res.body.equals(bytes.subarray(start, end + 1))).toBe(true);
  });

  it('a range starting at the size is 416 with Content-Range: bytes */size', async () => {
    const res = await client.get(path, { Range: 'bytes=100-' });
    expect(res.status).toBe(416);
    expect(res.header('Content-Range')).toBe('bytes */100');
  });

  it("another repository cannot read this repository's blob", async () => {
    const other = repoName('reads-other');
    await pushBlob(client, other, blob(10));
    await expectNoBlob(other, digest);
    expect((await client.head(`/v2/${other}/blobs/${digest}`)).status).toBe(404);
  });

  it('an unknown blob is 404 BLOB_UNKNOWN', async () => {
    await expectNoBlob(repo, absentDigest());
  });
});

describe('manifests', () => {
  it('PUT by tag is 201 with Location and Docker-Content-Digest; GET and HEAD by tag and digest', async () => {
    const repo = repoName('manifest');
    const pushed = await pushImage(client, repo, 'v1');
    expect(pushed.reply.header('Docker-Content-Digest')).toBe(pushed.digest);
    const location = header(pushed.reply, 'Location');
    expect((await client.get(location)).body.equals(pushed.bytes)).toBe(true);

    for (const reference of ['v1', pushed.digest]) {
      const get = await client.get(manifestPath(repo, reference));
      expect(get.status).toBe(200);
      expect(get.body.equals(pushed.bytes)).toBe(true);
      const expected = {
        'content-type': mediaTypes.ociManifest,
        'docker-content-digest': pushed.digest,
        'content-length': String(pushed.bytes.byteLength),
      };
      expect(get.headers).toMatchObject(expected);
      const etag = header(get, 'ETag');

      const head = await client.head(manifestPath(repo, reference));
      expect(head.status).toBe(200);
      expect(head.headers).toMatchObject({ ...expected, etag });
      expect(head.body.byteLength).toBe(0);

      const cached = await client.get(manifestPath(repo, reference), { 'If-None-Match': etag });
      expect(cached.status).toBe(304);
      expect(cached.body.byteLength).toBe(0);
    }
  });

  it('PUT by a digest that does not match the body is 400 DIGEST_INVALID', async () => {
    const repo = repoName('manifest-digest');
    const pushed = await pushImage(client, repo, 'v1');
    const claimed = absentDigest();
    expectError(await putManifest(client, repo, claimed, pushed.bytes, mediaTypes.ociManifest), 400, 'DIGEST_INVALID');
    expectError(await client.get(manifestPath(repo, claimed)), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest referencing a missing blob is 400 MANIFEST_BLOB_UNKNOWN and is not stored', async () => {
    const repo = repoName('manifest-missing');
    const config = json({ os: 'linux' });
    await pushBlob(client, repo, config);
    const bytes = imageManifest({
      config: descriptorOf(config, mediaTypes.ociConfig),
      layers: [descriptorOf(blob(100), mediaTypes.ociLayer)],
    });
    expectError(await putManifest(client, repo, 'v1', bytes, mediaTypes.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    expectError(await client.get(manifestPath(repo, 'v1')), 404, 'MANIFEST_UNKNOWN');
  });

  it('a non-distributable layer (with urls) need not be in the registry', async () => {
    const repo = repoName('manifest-urls');
    const config = json({ os: 'windows' });
    await pushBlob(client, repo, config);
    const foreign = descriptorOf(blob(100), 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', {
      urls: ['https://example.com/layer.tar.gz'],
    });
    const bytes = imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [foreign] });
    await pushManifest(client, repo, 'v1', bytes);
  });

  it('a Content-Type contradicting the body mediaType is 400 MANIFEST_INVALID', async () => {
    const repo = repoName('manifest-ct');
    const pushed = await pushImage(client, repo, 'v1');
    expectError(await putManifest(client, repo, 'v2', pushed.bytes, mediaTypes.dockerManifest), 400, 'MANIFEST_INVALID');
  });

  it('a body that is not JSON is 400 MANIFEST_INVALID', async () => {
    const res = await putManifest(client, repoName('manifest-junk'), 'v1', Buffer.from('not json {'), mediaTypes.ociManifest);
    expectError(res, 400, 'MANIFEST_INVALID');
  });

  it('a manifest over 4 MiB is 413', async () => {
    const huge = json({ schemaVersion: 2, mediaType: mediaTypes.ociManifest, padding: 'x'.repeat(4 * 1024 * 1024) });
    const res = await putManifest(client, repoName('manifest-huge'), 'v1', huge, mediaTypes.ociManifest);
    expect(res.status).toBe(413);
  });

  it('PUT by digest with ?tag=a&tag=b: 201, an OCI-Tag value per tag, both tags resolve', async () => {
    const repo = repoName('manifest-tags');
    const image = await pushImage(client, repo, 'seed');
    const res = await client.request('PUT', `${manifestPath(repo, image.digest)}?tag=a&tag=b`, {
      headers: { 'Content-Type': mediaTypes.ociManifest },
      body: image.bytes,
    });
    expect(res.status, res.text()).toBe(201);
    // One field line per tag, or lines combined with commas: the same field (RFC 9110 §5.3).
    expect(res.all('OCI-Tag').flatMap((v) => v.split(',').map((t) => t.trim())).sort()).toEqual(['a', 'b']);
    for (const tag of ['a', 'b']) {
      expect((await client.head(manifestPath(repo, tag))).header('Docker-Content-Digest')).toBe(image.digest);
    }
  });

  it('an OCI index over pushed manifests; one naming a missing manifest is MANIFEST_BLOB_UNKNOWN', async () => {
    const repo = repoName('index');
    const amd = await pushImage(client, repo, 'amd64');
    const arm = await pushImage(client, repo, 'arm64');
    const platforms = [
      { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
      { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
    ];
    const index = await pushManifest(client, repo, 'multi', indexManifest(platforms), mediaTypes.ociIndex);
    const get = await client.get(manifestPath(repo, 'multi'));
    expect(get.header('Content-Type')).toBe(mediaTypes.ociIndex);
    expect(get.body.equals(index.bytes)).toBe(true);

    const missing = descriptorOf(imageManifest({ config: amd.descriptor }), mediaTypes.ociManifest);
    const res = await putManifest(client, repo, 'broken', indexManifest([amd.descriptor, missing]), mediaTypes.ociIndex);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('Docker schema 2 manifests and manifest lists keep their media types', async () => {
    const repo = repoName('docker');
    const image = await pushImage(client, repo, 'v1', {
      mediaType: mediaTypes.dockerManifest,
      configMediaType: mediaTypes.dockerConfig,
      layerMediaType: mediaTypes.dockerLayer,
    });
    const list = json({
      schemaVersion: 2,
      mediaType: mediaTypes.dockerList,
      manifests: [{ ...image.descriptor, platform: { architecture: 'amd64', os: 'linux' } }],
    });
    await pushManifest(client, repo, 'list', list, mediaTypes.dockerList);
    for (const [tag, type] of [['v1', mediaTypes.dockerManifest], ['list', mediaTypes.dockerList]] as const) {
      const res = await client.get(manifestPath(repo, tag), { Accept: `${mediaTypes.dockerManifest}, ${mediaTypes.dockerList}` });
      expect(res.status).toBe(200);
      expect(res.header('Content-Type')).toBe(type);
    }
  });

  it('Accept naming only Docker types hides an OCI manifest; no Accept or */* serves it', async () => {
    const repo = repoName('accept');
    await pushImage(client, repo, 'v1');
    const path = manifestPath(repo, 'v1');
    expectError(await client.get(path, { Accept: `${mediaTypes.dockerManifest}, ${mediaTypes.dockerList}` }), 404, 'MANIFEST_UNKNOWN');
    for (const accept of [undefined, '*/*', `${mediaTypes.dockerManifest}, ${mediaTypes.ociManifest}`]) {
      const res = await client.get(path, accept === undefined ? {} : { Accept: accept });
      expect(res.status, String(accept)).toBe(200);
      expect(res.header('Content-Type')).toBe(mediaTypes.ociManifest);
    }
  });

  it('a manifest pushed by a sha512 digest is stored and served under it', async () => {
    const repo = repoName('manifest-sha512');
    const image = await pushImage(client, repo, 'v1');
    const digest = digestOf(image.bytes, 'sha512');
    const res = await putManifest(client, repo, digest, image.bytes, mediaTypes.ociManifest);
    expect(res.status, res.text()).toBe(201);
    expect(res.header('Docker-Content-Digest')).toBe(digest);
    const get = await client.get(manifestPath(repo, digest));
    expect(get.status).toBe(200);
    expect(get.header('Docker-Content-Digest')).toBe(digest);
    expect(get.body.equals(image.bytes)).toBe(true);
  });
});

describe('referrers', () => {
  const repo = repoName('referrers');
  const subject = absentDigest(); // a subject need not exist
  const sbomType = 'application/vnd.example.sbom.v1';
  const signatureConfig = 'application/vnd.example.signature.config.v1+json';
  const emptyConfig = Buffer.from('{}');
  let sbom: Descriptor;
  let signature: Descriptor;
  let signatureDigest: string;

  const subjectDescriptor = (digest: string): Descriptor => ({ mediaType: mediaTypes.ociManifest, digest, size: 1234 });

  async function referrers(digest: string, query = ''): Promise<{ res: Reply; manifests: Descriptor[] }> {
    const res = await client.get(`/v2/${repo}/referrers/${digest}${query}`);
    expect(res.status, res.text()).toBe(200);
    expect(res.header('Content-Type')).toBe(mediaTypes.ociIndex);
    const body = res.json<{ schemaVersion: number; mediaType: string; manifests: Descriptor[] }>();
    expect({ schemaVersion: body.schemaVersion, mediaType: body.mediaType }).toEqual({ schemaVersion: 2, mediaType: mediaTypes.ociIndex });
    return { res, manifests: [...body.manifests].sort((a, b) => a.digest.localeCompare(b.digest)) };
  }

  const sorted = (list: Descriptor[]): Descriptor[] => [...list].sort((a, b) => a.digest.localeCompare(b.digest));

  beforeAll(async () => {
    await pushBlob(client, repo, emptyConfig);
    const annotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' };
    const sbomBytes = imageManifest({
      artifactType: sbomType,
      config: descriptorOf(emptyConfig, mediaTypes.ociEmpty),
      subject: subjectDescriptor(subject),
      annotations,
    });
    const pushedSbom = await pushManifest(client, repo, digestOf(sbomBytes), sbomBytes);
    expect(pushedSbom.reply.header('OCI-Subject')).toBe(subject);
    sbom = { ...pushedSbom.descriptor, artifactType: sbomType, annotations };

    const pushedSignature = await pushImage(client, repo, 'sig', { configMediaType: signatureConfig, subject: subjectDescriptor(subject) });
    expect(pushedSignature.reply.header('OCI-Subject')).toBe(subject);
    signature = { ...pushedSignature.descriptor, artifactType: signatureConfig };
    signatureDigest = pushedSignature.digest;
  });

  it('lists the referrers with artifactType (own or the config media type) and annotations', async () => {
    const { manifests } = await referrers(subject);
    expect(manifests).toEqual(sorted([sbom, signature]));
  });

  it('?artifactType= filters and says so in OCI-Filters-Applied', async () => {
    const { res, manifests } = await referrers(subject, `?artifactType=${encodeURIComponent(sbomType)}`);
    expect(manifests).toEqual([sbom]);
    expect(res.header('OCI-Filters-Applied')).toBe('artifactType');
  });

  it('a digest without referrers gets an empty index', async () => {
    expect((await referrers(absentDigest())).manifests).toEqual([]);
  });

  it('merges an index pushed under the referrers tag schema (sha256-<hex>)', async () => {
    const other = absentDigest();
    const tagged = await pushImage(client, repo, 'tagged', { artifactType: 'application/vnd.example.tagged.v1' });
    const listed: Descriptor = { ...tagged.descriptor, artifactType: 'application/vnd.example.tagged.v1' };
    await pushManifest(client, repo, `sha256-${other.slice('sha256:'.length)}`, indexManifest([listed]), mediaTypes.ociIndex);
    expect((await referrers(other)).manifests).toEqual([listed]);
  });

  it('a deleted referrer leaves the list', async () => {
    expect((await client.delete(manifestPath(repo, signatureDigest))).status).toBe(202);
    expect((await referrers(subject)).manifests).toEqual([sbom]);
  });
});

describe('tag listing', () => {
  const repo = repoName('tags');
  const tags = ['b', 'a', 'c', 'A', '1'];

  beforeAll(async () => {
    const image = await pushImage(client, repo, tags[0] ?? 'b');
    for (const tag of tags.slice(1)) await pushManifest(client, repo, tag, image.bytes);
  });

  /** GETs a listing page; returns its body and the target of its `Link: <...>; rel="next"`. */
  async function listPage<T>(path: string): Promise<{ body: T; next?: URL }> {
    const res = await client.get(path);
    expect(res.status, res.text()).toBe(200);
    const link = res.header('Link');
    const m = link === undefined ? null : /^<([^>]+)>;\s*rel="next"$/.exec(link);
    if (link !== undefined) expect(m, link).not.toBeNull();
    return { body: res.json<T>(), ...(m?.[1] ? { next: new URL(m[1], client.base) } : {}) };
  }

  it('lists tags in lexical order', async () => {
    const { body, next } = await listPage<{ name: string; tags: string[] }>(`/v2/${repo}/tags/list`);
    expect(body).toEqual({ name: repo, tags: ['1', 'A', 'a', 'b', 'c'] });
    expect(next).toBeUndefined();
  });

  it('pages with n and last, linking to the next page', async () => {
    const pages: string[][] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=2`;
    while (path !== undefined) {
      const { body, next }: { body: { tags: string[] }; next?: URL } = await listPage(path);
      pages.push(body.tags);
      if (next) {
        expect(next.pathname).toBe(`/v2/${repo}/tags/list`);
        expect(next.searchParams.get('n')).toBe('2');
        expect(next.searchParams.get('last')).toBe(body.tags.at(-1));
      }
      path = next && `${next.pathname}${next.search}`;
    }
    expect(pages).toEqual([['1', 'A'], ['a', 'b'], ['c']]);
    expect((await listPage<{ tags: string[] }>(`/v2/${repo}/tags/list?last=b`)).body.tags).toEqual(['c']);
  });

  it('an unknown repository is 404 NAME_UNKNOWN', async () => {
    expectError(await client.get(`/v2/${repoName('nobody')}/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('the catalog lists nested names in lexical order and pages with Link', async () => {
    const names = ['zzcat/a', 'zzcat/a/b/c', 'zzcat/a-b', 'zzcat/b'];
    for (const name of names) await pushImage(client, name, 'v1');
    const expected = [...names].sort();

    const all = await listPage<{ repositories: string[] }>('/v2/_catalog');
    const repositories = all.body.repositories;
    expect(repositories).toEqual([...repositories].sort());
    expect(repositories.filter((r) => r.startsWith('zzcat/'))).toEqual(expected);

    const first = await listPage<{ repositories: string[] }>('/v2/_catalog?n=2&last=zzcat');
    expect(first.body.repositories).toEqual(expected.slice(0, 2));
    expect(first.next?.pathname).toBe('/v2/_catalog');
    expect(first.next?.searchParams.get('last')).toBe(expected[1]);
    const second = await listPage<{ repositories: string[] }>(`${first.next?.pathname}${first.next?.search}`);
    expect(second.body.repositories).toEqual(expected.slice(2, 4));
  });
});

describe('deletes', () => {
  it('deleting a tag is 202 and leaves the manifest by digest', async () => {
    const repo = repoName('del-tag');
    const image = await pushImage(client, repo, 'v1');
    expect((await client.delete(manifestPath(repo, 'v1'))).status).toBe(202);
    expectError(await client.get(manifestPath(repo, 'v1')), 404, 'MANIFEST_UNKNOWN');
    expect((await client.get(manifestPath(repo, image.digest))).status).toBe(200);
  });

  it('deleting a manifest by digest is 202 and takes its tags with it', async () => {
    const repo = repoName('del-manifest');
    const image = await pushImage(client, repo, 'v1');
    await pushManifest(client, repo, 'v2', image.bytes);
    expect((await client.delete(manifestPath(repo, image.digest))).status).toBe(202);
    expectError(await client.get(manifestPath(repo, image.digest)), 404, 'MANIFEST_UNKNOWN');
    expectError(await client.get(manifestPath(repo, 'v1')), 404, 'MANIFEST_UNKNOWN');
    const list = await client.get(`/v2/${repo}/tags/list`);
    if (list.status === 200) expect(list.json<{ tags: string[] }>().tags).toEqual([]);
    else expectError(list, 404, 'NAME_UNKNOWN');
  });

  it('deleting a blob is 202, then it is BLOB_UNKNOWN in that repository', async () => {
    const repo = repoName('del-blob');
    const digest = await pushBlob(client, repo, blob(100));
    expect((await client.delete(`/v2/${repo}/blobs/${digest}`)).status).toBe(202);
    await expectNoBlob(repo, digest);
  });

  it('deleting what does not exist is 404', async () => {
    const repo = repoName('del-unknown');
    await pushImage(client, repo, 'v1');
    expectError(await client.delete(`/v2/${repo}/blobs/${absentDigest()}`), 404, 'BLOB_UNKNOWN');
    expectError(await client.delete(manifestPath(repo, absentDigest())), 404, 'MANIFEST_UNKNOWN');
    expectError(await client.delete(manifestPath(repo, 'nope')), 404, 'MANIFEST_UNKNOWN');
  });

  describe('with deletes disabled in the config file', () => {
    let locked: TestServer;
    let lockedClient: Client;
    let configDir: string;

    beforeAll(async () => {
      configDir = await mkdtemp(join(tmpdir(), 'berth-config-'));
      const file = join(configDir, 'berth.yaml');
      await writeFile(file, 'delete:\n  blobs: false\n  manifests: false\n  tags: false\n');
      locked = await startServer({ args: ['--config', file] });
      lockedClient = new Client(locked.url);
    });

    afterAll(async () => {
      await locked?.stop();
      await rm(configDir, { recursive: true, force: true });
    });

    it('every delete is 405 UNSUPPORTED and nothing goes', async () => {
      const repo = repoName('locked');
      const image = await pushImage(lockedClient, repo, 'v1');
      const layer = JSON.parse(image.bytes.toString()) as { layers: Descriptor[] };
      const targets = [manifestPath(repo, 'v1'), manifestPath(repo, image.digest), `/v2/${repo}/blobs/${layer.layers[0]?.digest}`];
      for (const target of targets) {
        expectError(await lockedClient.delete(target), 405, 'UNSUPPORTED');
        expect((await lockedClient.head(target)).status, target).toBe(200);
      }
    });
  });
});
