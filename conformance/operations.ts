import { expectHeader, expectStatus, fail } from './assert.ts';
import type { Reply, RegistryClient } from './client.ts';
import {
  ACCEPT_ALL_MANIFESTS,
  MediaTypes,
  imageConfig,
  imageManifest,
  randomBlob,
  type Content,
  type DigestAlgorithm,
} from './fixtures.ts';
import type { CaseContext } from './types.ts';

/** The endpoint paths of spec: API / Endpoints. */
export const paths = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  manifest: (repo: string, reference: string) => `/v2/${repo}/manifests/${reference}`,
  blob: (repo: string, digest: string) => `/v2/${repo}/blobs/${digest}`,
  uploads: (repo: string) => `/v2/${repo}/blobs/uploads/`,
  upload: (repo: string, id: string) => `/v2/${repo}/blobs/uploads/${id}`,
  tags: (repo: string) => `/v2/${repo}/tags/list`,
  referrers: (repo: string, digest: string) => `/v2/${repo}/referrers/${digest}`,
};

export const octetStream = { 'Content-Type': MediaTypes.octetStream };

/** The upload URL with `digest=` set, keeping whatever query the registry put in its Location. */
export function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

/** Resolve the Location header of a reply against the URL that produced it. */
export function locationOf(client: RegistryClient, reply: Reply): URL {
  return client.resolve(expectHeader(reply, 'Location'), reply.url);
}

export interface Upload {
  location: URL;
  reply: Reply;
}

/** POST /blobs/uploads/ (end-4a) → 202 + Location; the session is cancelled after the case. */
export async function startUpload(ctx: CaseContext, repo: string, query: Record<string, string> = {}): Promise<Upload> {
  const reply = await ctx.client.request('POST', paths.uploads(repo), { body: new Uint8Array(0), query });
  expectStatus(reply, 202);
  const location = locationOf(ctx.client, reply);
  ctx.cleanup(() => ctx.client.request('DELETE', location));
  return { location, reply };
}

/** Monolithic POST then PUT; the blob is deleted after the case. */
export async function pushBlob(ctx: CaseContext, repo: string, blob: Content): Promise<Reply> {
  const { location } = await startUpload(ctx, repo);
  const reply = await ctx.client.request('PUT', withDigest(location, blob.digest), { body: blob.bytes, headers: octetStream });
  if (reply.status !== 201) fail(`pushing blob ${blob.digest} (POST then PUT): expected 201, got ${reply.describe()}`);
  ctx.cleanup(() => ctx.client.request('DELETE', paths.blob(repo, blob.digest)));
  await expectStored(ctx.client, paths.blob(repo, blob.digest), blob, 'pushed blob');
  return reply;
}

/**
 * A 201 is a claim; a HEAD checks it. Every case builds on content it pushed, so a registry that
 * acknowledges writes without keeping them fails at the first push instead of passing what follows.
 */
async function expectStored(client: RegistryClient, path: string, item: Content, what: string, accept?: string): Promise<void> {
  const head = await client.request('HEAD', path, accept ? { headers: { Accept: accept } } : {});
  if (head.status !== 200) fail(`${what} ${item.digest} was acknowledged but is not there: HEAD ${path} → ${head.status}`);
  const length = head.header('Content-Length');
  if (length !== null && length !== String(item.size)) fail(`${what} ${item.digest}: HEAD says ${length} bytes, ${item.size} were pushed`);
}

/** PUT a manifest (end-7) and expect 201; it is deleted after the case. */
export async function pushManifest(
  ctx: CaseContext,
  repo: string,
  reference: string,
  manifest: Content,
  query: Record<string, string | string[]> = {},
): Promise<Reply> {
  const reply = await putManifest(ctx.client, repo, reference, manifest, query);
  if (reply.status !== 201) fail(`pushing manifest to ${repo}:${reference}: expected 201, got ${reply.describe()}`);
  ctx.cleanup(() => ctx.client.request('DELETE', paths.manifest(repo, manifest.digest)));
  await expectStored(ctx.client, paths.manifest(repo, reference), manifest, `manifest ${repo}:${reference}`, ACCEPT_ALL_MANIFESTS);
  return reply;
}

export function putManifest(
  client: RegistryClient,
  repo: string,
  reference: string,
  manifest: Content,
  query: Record<string, string | string[]> = {},
): Promise<Reply> {
  return client.request('PUT', paths.manifest(repo, reference), {
    body: manifest.bytes,
    headers: { 'Content-Type': manifest.mediaType },
    query,
  });
}

export function getManifest(client: RegistryClient, repo: string, reference: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Reply> {
  return client.request(method, paths.manifest(repo, reference), { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
}

export interface PushedImage {
  config: Content;
  layers: Content[];
  manifest: Content;
}

export interface ImageOptions {
  tag?: string;
  layerSizes?: number[];
  /** Build the manifest from already-pushed blobs (e.g. to add a subject or artifactType). */
  manifestFrom?: (config: Content, layers: Content[]) => Content;
  algorithm?: DigestAlgorithm;
}

/** Push a config, layers and an image manifest (by tag if given, else by digest). */
export async function pushImage(ctx: CaseContext, repo: string, options: ImageOptions = {}): Promise<PushedImage> {
  const config = imageConfig();
  const layers = (options.layerSizes ?? [1024]).map((size) => randomBlob(size));
  for (const blob of [config, ...layers]) await pushBlob(ctx, repo, blob);
  const manifest = options.manifestFrom?.(config, layers) ?? imageManifest({ config, layers, algorithm: options.algorithm });
  await pushManifest(ctx, repo, options.tag ?? manifest.digest, manifest);
  return { config, layers, manifest };
}

/**
 * PATCH bytes [from, upTo) of `blob` in chunks of `chunkSize`, checking each 202 and its
 * `Range: 0-<end>`; returns the Location to continue with.
 */
export async function patchInChunks(ctx: CaseContext, location: URL, blob: Content, chunkSize: number, from = 0, upTo = blob.size): Promise<URL> {
  let current = location;
  for (let start = from; start < upTo; start += chunkSize) {
    const end = Math.min(start + chunkSize, upTo) - 1;
    const reply = await patchChunk(ctx.client, current, blob, start, end);
    expectStatus(reply, 202);
    expectHeader(reply, 'Range', `0-${end}`);
    current = locationOf(ctx.client, reply);
  }
  return current;
}

/** PATCH bytes [start, end] of `blob` with `Content-Range: start-end` (spec: Pushing a blob in chunks). */
export function patchChunk(client: RegistryClient, location: URL, blob: Content, start: number, end: number): Promise<Reply> {
  return client.request('PATCH', location, {
    body: blob.bytes.slice(start, end + 1),
    headers: { ...octetStream, 'Content-Range': `${start}-${end}` },
  });
}

/**
 * The chunk size to use for an upload session: the registry's OCI-Chunk-Min-Length when it sets
 * one (spec: chunks other than the last SHOULD be at least that long), else `fallback`.
 */
export function chunkSizeFor(upload: Upload, fallback: number): number {
  const advertised = Number(upload.reply.header('OCI-Chunk-Min-Length') ?? '');
  return Number.isSafeInteger(advertised) && advertised > fallback ? advertised : fallback;
}
