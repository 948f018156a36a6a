import type { Context } from 'hono';
import { defaultAlgorithm, formatDigest, parseAlgorithm, parseDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { validateName } from '../oci/names.ts';
import { parseContentRange } from '../oci/range.ts';
import type { Registry } from '../registry/registry.ts';
import { uploadRange, type Chunk, type UploadSession } from '../registry/uploads.ts';
import type { HttpOptions } from './options.ts';
import { contentLength, nameParam, pathParam } from './params.ts';
import { empty } from './responses.ts';

const uploadLocation = (s: UploadSession): string => `/v2/${s.name}/blobs/uploads/${s.id}`;
const blobLocation = (name: string, d: Digest): string => `/v2/${name}/blobs/${formatDigest(d)}`;

function sessionHeaders(s: UploadSession): Record<string, string> {
  return { Location: uploadLocation(s), Range: uploadRange(s.offset), 'Docker-Upload-UUID': s.id };
}

function created(name: string, digest: Digest): Response {
  return empty(201, { Location: blobLocation(name, digest), 'Docker-Content-Digest': formatDigest(digest) });
}

function uploadId(c: Context): string {
  return pathParam(c, 'id');
}

/**
 * Whom an upload session belongs to: with access control on, the caller (anonymous callers are
 * one principal, ''); with it off, nobody in particular.
 */
function ownerOf(c: Context): string | undefined {
  const access = c.get('access');
  return access ? (access.user ?? '') : undefined;
}

/** The request body as an upload chunk; an absent body is an empty chunk. */
function chunkOf(c: Context, options: HttpOptions, withRange: boolean): Chunk {
  const length = contentLength(c);
  const body = options.fastPaths.requestBody?.(c) ?? c.req.raw.body ?? new ReadableStream({ start: (ctl) => ctl.close() });
  const chunk: Chunk = { body };
  if (length !== undefined) chunk.length = length;
  const contentRange = c.req.header('Content-Range');
  if (withRange && contentRange !== undefined) chunk.range = parseContentRange(contentRange);
  return chunk;
}

/**
 * POST /v2/<name>/blobs/uploads/: a mount (`mount`, `from`), a monolithic upload (`digest`), or a
 * new session (spec: Pushing Blobs). A mount that cannot be served falls back to a new session.
 */
export async function startUpload(c: Context, registry: Registry, options: HttpOptions): Promise<Response> {
  const name = nameParam(c);
  const owner = ownerOf(c);
  const mount = c.req.query('mount');
  const digestQuery = c.req.query('digest');
  const algorithmQuery = c.req.query('digest-algorithm');
  if (mount !== undefined) {
    const digest = mountable(mount, c.req.query('from'));
    const from = digest && (await mountSource(c, registry, digest));
    if (digest && from !== null && (await registry.blobs.mount(name, digest.digest, from))) return created(name, digest.digest);
  } else if (digestQuery !== undefined) {
    const digest = parseDigest(digestQuery);
    const session = await registry.uploads.start(name, digest.algorithm, owner);
    await registry.uploads.finish(name, session.id, digest, chunkOf(c, options, false), owner);
    return created(name, digest);
  }
  const algorithm = algorithmQuery === undefined ? defaultAlgorithm : parseAlgorithm(algorithmQuery);
  const session = await registry.uploads.start(name, algorithm, owner);
  return empty(202, { ...sessionHeaders(session), 'OCI-Chunk-Min-Length': String(options.chunkMinLength) });
}

/**
 * Where a mount may link the blob from; null when it may not (a fresh upload then, which the spec
 * allows and every client handles). Without access control: `from`, or with none any repository.
 * With it, only a repository the caller may pull: `from` when they may pull it (a client may ask to
 * mount from one they cannot: containerd does), else, without `from`, one found to link the blob.
 */
async function mountSource(c: Context, registry: Registry, mount: { digest: Digest; from?: string }): Promise<string | undefined | null> {
  const access = c.get('access');
  if (!access) return mount.from;
  if (mount.from !== undefined) return access.mayPull(mount.from) ? mount.from : null;
  return (await registry.blobs.visibleSource(mount.digest, (repo) => access.mayPull(repo))) ?? null;
}

/**
 * The blob a mount request names, or undefined when the request cannot be served as a mount: the
 * spec's answer to a mount the registry cannot do is a fresh upload (202), not an error, so a
 * client that guessed wrong still pushes.
 */
function mountable(mount: string, from: string | undefined): { digest: Digest; from?: string } | undefined {
  try {
    const digest = parseDigest(mount);
    return from === undefined ? { digest } : { digest, from: validateName(from) };
  } catch {
    return undefined;
  }
}

/** GET /v2/<name>/blobs/uploads/<id>: where the upload stands. */
export async function uploadStatus(c: Context, registry: Registry): Promise<Response> {
  const session = await registry.uploads.status(nameParam(c), uploadId(c), ownerOf(c));
  return empty(204, sessionHeaders(session));
}

/** PATCH: one chunk, placed by `Content-Range` when given, else appended. */
export async function patchUpload(c: Context, registry: Registry, options: HttpOptions): Promise<Response> {
  const name = nameParam(c);
  const id = uploadId(c);
  try {
    const session = await registry.uploads.append(name, id, chunkOf(c, options, true), ownerOf(c));
    return empty(202, sessionHeaders(session));
  } catch (e) {
    throw withLocation(e, `/v2/${name}/blobs/uploads/${id}`);
  }
}

/** PUT: the optional last chunk and the digest that closes the session. */
export async function finishUpload(c: Context, registry: Registry, options: HttpOptions): Promise<Response> {
  const name = nameParam(c);
  const digestQuery = c.req.query('digest');
  if (digestQuery === undefined) throw new OciError('DIGEST_INVALID', 'the digest query parameter is required');
  const digest = parseDigest(digestQuery);
  const blob = await registry.uploads.finish(name, uploadId(c), digest, chunkOf(c, options, true), ownerOf(c));
  return created(name, blob.digest);
}

export async function cancelUpload(c: Context, registry: Registry): Promise<Response> {
  await registry.uploads.cancel(nameParam(c), uploadId(c), ownerOf(c));
  return empty(204);
}

/** A 416 tells the client where to resume: it needs the session's `Location` with the `Range`. */
function withLocation(e: unknown, location: string): unknown {
  if (e instanceof OciError && e.status === 416) e.headers.Location = location;
  return e;
}
