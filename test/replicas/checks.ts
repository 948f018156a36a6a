import { expect } from 'vitest';
import type { Client } from '../support/http.ts';
import { descriptorOf, digestOf, imageManifest, mediaTypes, pushBlob, pushManifest } from '../support/oci.ts';

/** The digest a replica serves for `ref`, or the status when it serves none. */
export async function digestAt(via: Client, repo: string, ref: string): Promise<string | number> {
  const res = await via.get(`/v2/${repo}/manifests/${ref}`, { Accept: mediaTypes.ociManifest });
  return res.status === 200 ? (res.header('docker-content-digest') ?? '') : res.status;
}

/**
 * With every replica holding the tag in its cache: a tag moved through one, a tag deleted through
 * another, a manifest deleted by digest through a third, each seen by the next request everywhere.
 */
export async function expectTagsAndManifestsSeenEverywhere(replicas: Client[], repo: string): Promise<void> {
  const [a, b, c] = replicas as [Client, Client, Client];
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  await pushBlob(a, repo, config);
  const [first, second] = [1, 2].map((i) =>
    imageManifest({ config: descriptorOf(config, mediaTypes.ociConfig), layers: [], annotations: { version: String(i) } }),
  ) as [Buffer, Buffer];
  await pushManifest(a, repo, 'v1', first);
  await pushManifest(a, repo, 'v2', second);
  for (let i = 0; i < 3; i++) for (const via of replicas) expect(await digestAt(via, repo, 'v1')).toBe(digestOf(first));

  await pushManifest(b, repo, 'v1', second);
  expect(await digestAt(a, repo, 'v1')).toBe(digestOf(second));
  expect(await digestAt(c, repo, 'v1')).toBe(digestOf(second));

  expect((await c.request('DELETE', `/v2/${repo}/manifests/v2`)).status).toBe(202);
  expect(await digestAt(a, repo, 'v2')).toBe(404);
  expect(await digestAt(b, repo, 'v2')).toBe(404);

  for (const via of replicas) expect(await digestAt(via, repo, digestOf(second))).toBe(digestOf(second));
  expect((await a.request('DELETE', `/v2/${repo}/manifests/${digestOf(second)}`)).status).toBe(202);
  for (const via of [b, c]) {
    expect(await digestAt(via, repo, digestOf(second))).toBe(404);
    expect(await digestAt(via, repo, 'v1')).toBe(404);
  }
  await pushManifest(b, repo, 'v1', second);
  expect(await digestAt(a, repo, 'v1')).toBe(digestOf(second));
  expect(await digestAt(c, repo, 'v1')).toBe(digestOf(second));
}

/** A blob deleted through one replica is unknown to the next GET and HEAD on the others. */
export async function expectBlobDeletesSeenEverywhere(replicas: Client[], repo: string): Promise<void> {
  const [a, b, c] = replicas as [Client, Client, Client];
  const blob = Buffer.from(`a blob that goes away ${repo}`);
  await pushBlob(a, repo, blob);
  for (const via of replicas) expect((await via.request('HEAD', `/v2/${repo}/blobs/${digestOf(blob)}`)).status).toBe(200);
  expect((await b.request('DELETE', `/v2/${repo}/blobs/${digestOf(blob)}`)).status).toBe(202);
  expect((await a.get(`/v2/${repo}/blobs/${digestOf(blob)}`)).status).toBe(404);
  expect((await c.request('HEAD', `/v2/${repo}/blobs/${digestOf(blob)}`)).status).toBe(404);
}
