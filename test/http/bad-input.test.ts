/**
 * Hostile requests: each gets a clear 4xx with the spec's error envelope, never a 500 and never a
 * crash, and nothing half-written ever becomes visible in storage. Paths go on the wire exactly as
 * written here (node:http does not normalise `..` or `%2F`).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from '../support/http.ts';
import { blob, digestOf, errorCode, expectError, hexOf, json, mediaTypes, pushBlob, pushImage } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { storeProblems } from '../support/store.ts';

let server: TestServer;
let client: Client;

const repo = 'hostile';
const hex = hexOf('hostile');
const digest = `sha256:${hex}`;

/** What the rows can refer to: a repository holding one image, and fresh upload sessions. */
interface Fixture {
  manifest: Buffer;
  /** Starts an upload session in `hostile`; returns its path. */
  upload(): Promise<string>;
}

let fixture: Fixture;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
  const image = await pushImage(client, repo, 'latest');
  fixture = {
    manifest: image.bytes,
    async upload() {
      const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
      expect(res.status).toBe(202);
      return new URL(res.header('Location') ?? '', client.base).pathname;
    },
  };
});

afterAll(async () => {
  await server?.stop();
});

interface Row {
  name: string;
  method: string;
  path: string | ((f: Fixture) => string | Promise<string>);
  headers?: Record<string, string>;
  body?: Buffer | string | ((f: Fixture) => Buffer);
  /** The expected status; a list where the spec leaves a choice. */
  status: number | number[];
  /** The envelope's code; a list where the spec leaves a choice; absent: any code, but an envelope. */
  code?: string | string[];
}

const oci = { 'Content-Type': mediaTypes.ociManifest };
const octets = { 'Content-Type': 'application/octet-stream' };
const withUpload =
  (suffix = '') =>
  async (f: Fixture): Promise<string> =>
    `${await f.upload()}${suffix}`;
const putManifest = (name: string, reference: string | ((f: Fixture) => string), body: Row['body'], extra: Partial<Row> = {}): Row => ({
  name,
  method: 'PUT',
  path: typeof reference === 'string' ? `/v2/${repo}/manifests/${reference}` : (f) => `/v2/${repo}/manifests/${reference(f)}`,
  headers: oci,
  body,
  status: 400,
  code: 'MANIFEST_INVALID',
  ...extra,
});
const nameRow = (name: string, path: string, method = 'GET'): Row => ({ name, method, path, status: 400, code: 'NAME_INVALID' });
/**
 * A path with dot segments: refused as an invalid name, or first normalised (RFC 3986 §5.2.4, as
 * WHATWG URL parsing does) and then answered as the resulting path, here a repository that does not exist.
 */
// A runtime may resolve dot segments before routing; `/v2/%2e%2e/x` then leaves /v2/ altogether
// and is an unknown endpoint (404 UNSUPPORTED). Either way it never reaches storage.
const dotRow = (name: string, path: string): Row => ({
  ...nameRow(name, path),
  status: [400, 404],
  code: ['NAME_INVALID', 'NAME_UNKNOWN', 'UNSUPPORTED'],
});
const digestRow = (name: string, path: string): Row => ({ name, method: 'GET', path, status: 400, code: 'DIGEST_INVALID' });
const image = (patch: Record<string, unknown>): Buffer =>
  json({
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: mediaTypes.ociConfig, digest, size: 7 },
    layers: [],
    ...patch,
  });

const rows: Row[] = [
  // Repository names: traversal, encoding tricks, grammar and length.
  dotRow('.. between components', '/v2/a/../b/tags/list'),
  dotRow('percent-encoded ..', '/v2/%2e%2e/x/tags/list'),
  nameRow('encoded slashes around ..', '/v2/a%2F..%2Fb/tags/list'),
  dotRow('a . component', '/v2/a/./b/tags/list'),
  nameRow('uppercase', '/v2/Alpine/tags/list'),
  nameRow('256 characters', `/v2/${'a'.repeat(256)}/tags/list`),
  nameRow('leading underscore', '/v2/_leading/tags/list'),
  nameRow('a component named like a storage entry', '/v2/a/_manifests/tags/list'),
  nameRow('double dot inside a component', '/v2/a..b/tags/list'),
  nameRow('encoded NUL', '/v2/a%00b/tags/list'),
  nameRow('invalid name on an upload', '/v2/UP/blobs/uploads/', 'POST'),

  // Tags.
  putManifest('a 129-character tag', 't'.repeat(129), (f) => f.manifest),
  putManifest('a tag starting with -', '-dash', (f) => f.manifest),
  putManifest('an encoded traversal as a tag', '..%2F..%2Fetc', (f) => f.manifest),
  putManifest('an invalid ?tag= on a push by digest', (f) => `${digestOf(f.manifest)}?tag=-bad`, (f) => f.manifest),

  // Digests.
  digestRow('non-hex digest', `/v2/${repo}/blobs/sha256:xyz`),
  digestRow('63 hex characters', `/v2/${repo}/blobs/sha256:${hex.slice(1)}`),
  digestRow('unsupported algorithm', `/v2/${repo}/blobs/md5:${hex.slice(0, 32)}`),
  digestRow('uppercase hex', `/v2/${repo}/blobs/sha256:${hex.toUpperCase()}`),
  digestRow('no encoded part', `/v2/${repo}/blobs/sha256:`),
  digestRow('manifest by a malformed digest', `/v2/${repo}/manifests/sha256:xyz`),
  digestRow('referrers of a malformed digest', `/v2/${repo}/referrers/sha256:${hex.slice(1)}`),
  { name: 'closing an upload with a malformed digest', method: 'PUT', path: withUpload('?digest=sha256:xyz'), status: 400, code: 'DIGEST_INVALID' },
  { name: 'closing an upload without a digest', method: 'PUT', path: withUpload(), status: 400, code: 'DIGEST_INVALID' },
  { name: 'a single-request upload with an md5 digest', method: 'POST', path: `/v2/${repo}/blobs/uploads/?digest=md5:${hex.slice(0, 32)}`, body: 'x', status: 400, code: 'DIGEST_INVALID' },
  // A mount that cannot be served falls back to an upload session (spec: Mounting a blob from another repository).
  { name: 'mount of a malformed digest', method: 'POST', path: `/v2/${repo}/blobs/uploads/?mount=sha256:xyz&from=${repo}`, status: 202 },
  { name: 'mount from an invalid repository name', method: 'POST', path: `/v2/${repo}/blobs/uploads/?mount=${digest}&from=../etc`, status: 202 },

  // Content-Range on chunks.
  { name: 'Content-Range abc', method: 'PATCH', path: withUpload(), headers: { ...octets, 'Content-Range': 'abc' }, body: 'abcd', status: [400, 416] },
  { name: 'Content-Range 5-2', method: 'PATCH', path: withUpload(), headers: { ...octets, 'Content-Range': '5-2' }, body: 'abcd', status: [400, 416] },
  {
    name: 'Content-Range length disagreeing with Content-Length',
    method: 'PATCH',
    path: withUpload(),
    headers: { ...octets, 'Content-Range': '0-9' },
    body: 'abcd',
    status: [400, 416],
  },

  // Manifest bodies.
  putManifest('a body that is not JSON', 'junk', 'not json {'),
  putManifest('a JSON array', 'array', '[]'),
  putManifest('schemaVersion 1', 'v1', json({ schemaVersion: 1, name: repo, tag: 'v1', fsLayers: [] }), {
    headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
  }),
  putManifest('no config', 'noconfig', json({ schemaVersion: 2, mediaType: mediaTypes.ociManifest, layers: [] })),
  putManifest('a config with a malformed digest', 'baddigest', image({ config: { mediaType: mediaTypes.ociConfig, digest: 'sha256:xyz', size: 1 } }), {
    code: ['MANIFEST_INVALID', 'DIGEST_INVALID'],
  }),
  putManifest('a negative size', 'negative', image({ config: { mediaType: mediaTypes.ociConfig, digest, size: -1 } })),
  putManifest('a subject that is no descriptor', 'subject', image({ subject: 'sha256:abc' })),
  putManifest('invalid UTF-8', 'utf8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
  putManifest('JSON nested 100 000 deep', 'deep', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  putManifest('over 4 MiB', 'huge', Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), { status: 413, code: undefined }),

  // Upload sessions that do not exist.
  { name: 'a random upload id', method: 'GET', path: `/v2/${repo}/blobs/uploads/${randomUUID()}`, status: 404, code: 'BLOB_UPLOAD_UNKNOWN' },
  { name: 'an upload id that is no uuid', method: 'DELETE', path: `/v2/${repo}/blobs/uploads/not-an-id`, status: 404, code: 'BLOB_UPLOAD_UNKNOWN' },
  { name: 'an encoded traversal as an upload id', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/..%2F..%2Fetc`, body: 'x', status: 404, code: 'BLOB_UPLOAD_UNKNOWN' },
  { name: 'a raw traversal after uploads/', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/../../etc`, body: 'x', status: 404 },
  {
    name: 'closing an unknown upload',
    method: 'PUT',
    path: `/v2/${repo}/blobs/uploads/${randomUUID()}?digest=${digestOf('x')}`,
    body: 'x',
    status: 404,
    code: 'BLOB_UPLOAD_UNKNOWN',
  },

  // Methods an endpoint does not have.
  { name: 'on a manifest', method: 'POST', path: `/v2/${repo}/manifests/latest`, status: 405, code: 'UNSUPPORTED' },
  { name: 'on a tag list', method: 'PATCH', path: `/v2/${repo}/tags/list`, status: 405, code: 'UNSUPPORTED' },
  { name: 'on the catalog', method: 'DELETE', path: '/v2/_catalog', status: 405, code: 'UNSUPPORTED' },
  { name: 'on a blob', method: 'PUT', path: `/v2/${repo}/blobs/${digest}`, body: 'x', status: 405, code: 'UNSUPPORTED' },
  { name: 'on /v2/', method: 'POST', path: '/v2/', status: 405, code: 'UNSUPPORTED' },

  // Paging.
  { name: 'n=-1 on tags', method: 'GET', path: `/v2/${repo}/tags/list?n=-1`, status: 400, code: 'PAGINATION_NUMBER_INVALID' },
  { name: 'n=abc on tags', method: 'GET', path: `/v2/${repo}/tags/list?n=abc`, status: 400, code: 'PAGINATION_NUMBER_INVALID' },
  { name: 'n=-1 on the catalog', method: 'GET', path: '/v2/_catalog?n=-1', status: 400, code: 'PAGINATION_NUMBER_INVALID' },
  { name: 'n=1.5 on the catalog', method: 'GET', path: '/v2/_catalog?n=1.5', status: 400, code: 'PAGINATION_NUMBER_INVALID' },
];

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

async function send(row: Row): Promise<Reply> {
  const path = typeof row.path === 'function' ? await row.path(fixture) : row.path;
  const body = typeof row.body === 'function' ? row.body(fixture) : row.body;
  return client.request(row.method, path, { ...(row.headers ? { headers: row.headers } : {}), ...(body === undefined ? {} : { body }) });
}

describe('hostile requests', () => {
  it.each(rows.map((row) => [`${row.method} ${row.name}`, row] as const))('%s', async (_, row) => {
    const res = await send(row);
    expect(res.status, `never a 5xx: ${res.text()}`).toBeLessThan(500);
    expect(asList(row.status), res.text()).toContain(res.status);
    if (res.status >= 400) {
      const code = errorCode(res);
      expect(code, `an error envelope: ${res.text()}`).toBeDefined();
      if (row.code !== undefined) expect(asList(row.code)).toContain(code);
    }
    // Where the spec asks for headers with a status, they are there.
    if (res.status === 405) expect(res.header('Allow'), 'Allow on a 405').toBeTruthy();
    if (res.status === 416 && row.method === 'PATCH') {
      expect(res.header('Range'), 'Range on a 416').toMatch(/^0-\d+$/);
      expect(res.header('Location'), 'Location on a 416').toBeTruthy();
    }
    if (res.status === 202) expect(res.header('Location')).toMatch(new RegExp(`/v2/${repo}/blobs/uploads/`));
  });
});

describe('bodies that lie about their length', () => {
  const part = blob(10);

  it('a PATCH that declares more than it sends adds nothing to the upload', async () => {
    const location = await fixture.upload();
    await client.abandon('PATCH', location, part, 1000, octets);
    // The next chunk must still start at 0: the cut-off one left no bytes behind.
    const next = await client.request('PATCH', location, { headers: { ...octets, 'Content-Range': '0-3' }, body: 'abcd' });
    expect(next.status, next.text()).toBe(202);
    expect(next.header('Range')).toBe('0-3');
    const done = await client.request('PUT', `${location}?digest=${digestOf('abcd')}`);
    expect(done.status, done.text()).toBe(201);
  });

  it('a single-request POST ?digest= cut short stores nothing', async () => {
    const whole = blob(1000);
    const wholeDigest = digestOf(whole);
    await client.abandon('POST', `/v2/${repo}/blobs/uploads/?digest=${wholeDigest}`, whole.subarray(0, 10), whole.byteLength, octets);
    expectError(await client.get(`/v2/${repo}/blobs/${wholeDigest}`), 404, 'BLOB_UNKNOWN');
  });

  it('a closing PUT cut short commits nothing', async () => {
    const whole = blob(1000);
    const wholeDigest = digestOf(whole);
    const location = await fixture.upload();
    await client.abandon('PUT', `${location}?digest=${wholeDigest}`, whole.subarray(0, 10), whole.byteLength, octets);
    expectError(await client.get(`/v2/${repo}/blobs/${wholeDigest}`), 404, 'BLOB_UNKNOWN');
  });

  it('a manifest PUT cut short stores nothing', async () => {
    await client.abandon('PUT', `/v2/${repo}/manifests/cut`, fixture.manifest.subarray(0, 10), fixture.manifest.byteLength, oci);
    expectError(await client.get(`/v2/${repo}/manifests/cut`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('after all that', () => {
  it('the server is still up and answering', async () => {
    expect(server.process.exitCode).toBeNull();
    expect(server.process.signalCode).toBeNull();
    expect((await client.get('/v2/')).status).toBe(200);
    expect(server.logs()).not.toMatch(/"level":"error"/);
  });

  it('nothing half-written is visible in storage', async () => {
    await pushBlob(client, repo, blob(100)); // one more write, to be sure the store is still writable
    expect(await storeProblems(server.dataDir)).toEqual([]);
  });
});
