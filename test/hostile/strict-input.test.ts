/**
 * Input that parses but that clients cannot use (issue 12): a manifest berth would store and then
 * serve to clients whose JSON parsers refuse it is refused with MANIFEST_INVALID and not stored
 * (src/oci/strict-json.ts says what and why), while the pretty-printed JSON real tools push is
 * stored byte for byte; and an invalid byte range is 416, not the whole blob.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../support/http.ts';
import { blob, descriptorOf, digestOf, expectError, json, mediaTypes, pushBlob, putManifest } from '../support/oci.ts';
import { startServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: Client;
const repo = 'strict/app';
let manifest: Record<string, unknown>;
let layer: Buffer;
let layerDigest: string;

beforeAll(async () => {
  server = await startServer();
  client = new Client(server.url);
  const config = json({ architecture: 'amd64', os: 'linux' });
  layer = blob(1000);
  await pushBlob(client, repo, config);
  layerDigest = await pushBlob(client, repo, layer);
  manifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: descriptorOf(config, mediaTypes.ociConfig),
    layers: [descriptorOf(layer, mediaTypes.ociLayer)],
  };
});

afterAll(async () => {
  await server?.stop();
});

describe('manifests clients could not read back are refused and not stored', () => {
  const compact = (): string => JSON.stringify(manifest);
  const cases: Array<[string, () => Buffer]> = [
    ['a UTF-8 byte order mark before the JSON', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(compact())])],
    ['a key twice in the manifest', () => Buffer.from(compact().replace('"layers":', '"layers":[],"layers":'))],
    ['a key twice in a descriptor', () => Buffer.from(compact().replace('"size":', '"size":1,"size":'))],
    ['a lone surrogate escape', () => Buffer.from(compact().replace(/}$/, ',"annotations":{"a":"\\udc00"}}'))],
    ['a second document after the manifest', () => Buffer.from(`${compact()}{}`)],
    ['bytes that are not UTF-8 in a string', () => Buffer.concat([Buffer.from(compact().replace(/}$/, ',"annotations":{"a":"')), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')])],
  ];

  it.each(cases)('%s: 400 MANIFEST_INVALID, by tag and by digest', async (_, body) => {
    const bytes = body();
    const byTag = await putManifest(client, repo, 'bad', bytes, mediaTypes.ociManifest);
    expectError(byTag, 400, 'MANIFEST_INVALID');
    const byDigest = await putManifest(client, repo, digestOf(bytes), bytes, mediaTypes.ociManifest);
    expectError(byDigest, 400, 'MANIFEST_INVALID');
    expect((await client.head(`/v2/${repo}/manifests/bad`)).status).toBe(404);
    expect((await client.head(`/v2/${repo}/manifests/${digestOf(bytes)}`)).status).toBe(404);
  });

  it('names the problem in the message', async () => {
    const res = await putManifest(client, repo, 'bad', cases[0]![1](), mediaTypes.ociManifest);
    expect(res.json<{ errors: Array<{ message: string }> }>().errors[0]?.message).toMatch(/byte order mark/);
  });

  it('stores pretty-printed JSON, with whitespace around it and keys in any order, byte for byte', async () => {
    const { layers, ...rest } = manifest;
    const bytes = Buffer.from(`\n  ${JSON.stringify({ layers, ...rest }, null, '\t')}\r\n`);
    const res = await putManifest(client, repo, 'pretty', bytes, mediaTypes.ociManifest);
    expect(res.status, res.text()).toBe(201);
    const got = await client.get(`/v2/${repo}/manifests/pretty`, { Accept: mediaTypes.ociManifest });
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
    expect(got.header('Docker-Content-Digest')).toBe(digestOf(bytes));
  });
});

describe('blob ranges', () => {
  const get = (range: string, method = 'GET') => client.request(method, `/v2/${repo}/blobs/${layerDigest}`, { headers: { Range: range } });

  it.each(['bytes=500-0', 'bytes=999-998', 'bytes=abc', 'bytes=', 'bytes=-', 'bytes=1-2-3', 'bytes=0-1,9-5'])(
    'an invalid range %j is 416 with Content-Range bytes */size',
    async (range) => {
      for (const method of ['GET', 'HEAD']) {
        const res = await get(range, method);
        expect({ method, status: res.status, contentRange: res.header('Content-Range') }).toEqual({ method, status: 416, contentRange: `bytes */${layer.length}` });
        if (method === 'GET') expectError(res, 416, 'SIZE_INVALID');
      }
    },
  );

  it('a valid range is still 206 with those bytes', async () => {
    const res = await get('bytes=500-509');
    expect(res.status).toBe(206);
    expect(res.header('Content-Range')).toBe(`bytes 500-509/${layer.length}`);
    expect(res.body.equals(layer.subarray(500, 510))).toBe(true);
  });

  it.each(['items=0-9', 'bytes=0-1, 5-6'])('%j (another unit, or several ranges) is ignored: 200 with the whole blob', async (range) => {
    const res = await get(range);
    expect(res.status).toBe(200);
    expect(res.body.equals(layer)).toBe(true);
  });
});
