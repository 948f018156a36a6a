/**
 * Every /v2/ response carries `Docker-Distribution-API-Version: registry/2.0` (spec: API Version
 * Check). Handlers add it themselves (no middleware rewrites responses), so each kind of answer is
 * asked for here: bodies, empty answers, errors, redirects, native file sending, HEAD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Reply } from '../support/http.ts';
import { absentDigest, blob, digestOf, pushBlob, pushImage, repoName } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: Client;
const repo = repoName('api-version');
let manifestDigest = '';
let layerDigest = '';

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
  const image = await pushImage(client, repo, 'v1');
  manifestDigest = image.digest;
  layerDigest = await pushBlob(client, repo, blob(4096));
});

afterAll(async () => {
  await server?.stop();
});

const requests: Array<[string, string, () => Promise<Reply>, number]> = [
  ['GET', '/v2/', () => client.request('GET', '/v2/'), 200],
  ['GET', '/v2 (redirect)', () => client.request('GET', '/v2'), 301],
  ['GET', 'catalog', () => client.request('GET', '/v2/_catalog'), 200],
  ['GET', 'tags', () => client.request('GET', `/v2/${repo}/tags/list`), 200],
  ['HEAD', 'tags', () => client.request('HEAD', `/v2/${repo}/tags/list`), 200],
  ['GET', 'manifest by tag', () => client.request('GET', `/v2/${repo}/manifests/v1`), 200],
  ['HEAD', 'manifest by digest', () => client.request('HEAD', `/v2/${repo}/manifests/${manifestDigest}`), 200],
  ['GET', 'manifest, If-None-Match', () => client.request('GET', `/v2/${repo}/manifests/v1`, { headers: { 'If-None-Match': `"${manifestDigest}"` } }), 304],
  ['GET', 'unknown manifest', () => client.request('GET', `/v2/${repo}/manifests/nope`), 404],
  ['HEAD', 'unknown manifest', () => client.request('HEAD', `/v2/${repo}/manifests/nope`), 404],
  ['GET', 'blob', () => client.request('GET', `/v2/${repo}/blobs/${layerDigest}`), 200],
  ['GET', 'blob range', () => client.request('GET', `/v2/${repo}/blobs/${layerDigest}`, { headers: { Range: 'bytes=0-9' } }), 206],
  ['GET', 'blob range past the end', () => client.request('GET', `/v2/${repo}/blobs/${layerDigest}`, { headers: { Range: 'bytes=99999-' } }), 416],
  ['HEAD', 'blob', () => client.request('HEAD', `/v2/${repo}/blobs/${layerDigest}`), 200],
  ['GET', 'unknown blob', () => client.request('GET', `/v2/${repo}/blobs/${absentDigest()}`), 404],
  ['GET', 'referrers', () => client.request('GET', `/v2/${repo}/referrers/${manifestDigest}`), 200],
  ['PUT', 'method not allowed', () => client.request('PUT', `/v2/${repo}/tags/list`), 405],
  ['GET', 'no such endpoint', () => client.request('GET', `/v2/${repo}/nothing/here`), 404],
  ['GET', 'invalid name', () => client.request('GET', `/v2/UPPER/manifests/v1`), 400],
];

describe('Docker-Distribution-API-Version on every /v2/ answer', () => {
  it.each(requests)('%s %s', async (_method, _what, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
  });

  it('through an upload: POST, PATCH, status, PUT, and a cancelled session', async () => {
    const bytes = blob(1000);
    const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    expect(started.status).toBe(202);
    const location = started.header('Location') ?? '';
    const patched = await client.request('PATCH', location, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(patched.status).toBe(202);
    const status = await client.request('GET', patched.header('Location') ?? '');
    expect(status.status).toBe(204);
    const next = patched.header('Location') ?? '';
    const done = await client.request('PUT', `${next}${next.includes('?') ? '&' : '?'}digest=${digestOf(bytes)}`);
    expect(done.status).toBe(201);
    const other = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    const cancelled = await client.request('DELETE', other.header('Location') ?? '');
    expect(cancelled.status).toBe(204);
    const deleted = await client.request('DELETE', `/v2/${repo}/manifests/${manifestDigest}`);
    expect(deleted.status).toBe(202);
    for (const res of [started, patched, status, done, cancelled, deleted]) expect(res.header('Docker-Distribution-API-Version')).toBe('registry/2.0');
  });
});
