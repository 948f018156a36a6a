import type { Context } from 'hono';
import { formatDigest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { acceptsManifest, bareMediaType } from '../oci/media-types.ts';
import { parseReference, type ServedManifest } from '../registry/manifests.ts';
import { readLimited } from '../registry/metered-stream.ts';
import type { Registry } from '../registry/registry.ts';
import type { HttpOptions } from './options.ts';
import { nameParam, pathParam } from './params.ts';
import { apiVersion, empty, staleWarning } from './responses.ts';

function referenceParam(c: Context) {
  return parseReference(pathParam(c, 'reference'));
}

/** GET and HEAD /v2/<name>/manifests/<reference>. */
export async function getManifest(c: Context, registry: Registry): Promise<Response> {
  const name = nameParam(c);
  const ref = referenceParam(c);
  const accept = c.req.header('Accept');
  const found: ServedManifest = c.req.method === 'HEAD' ? await registry.manifests.stat(name, ref, accept) : await registry.manifests.get(name, ref, accept);
  if (found.outcome !== undefined) c.set('upstream', found.outcome);
  // A mirror's answer its upstream could not confirm says so on whatever response it leads to.
  const warning = found.stale === undefined ? undefined : { Warning: staleWarning(found.stale) };
  if (!acceptsManifest(accept, found.mediaType)) {
    throw new OciError('MANIFEST_UNKNOWN', `manifest is ${found.mediaType}, which the Accept header does not admit`, {
      detail: { mediaType: found.mediaType },
      ...(warning && { headers: warning }),
    });
  }
  const digest = formatDigest(found.digest);
  const etag = `"${digest}"`;
  if (c.req.header('If-None-Match')?.split(',').some((t) => t.trim() === etag)) {
    return empty(304, { 'Docker-Content-Digest': digest, ETag: etag, ...warning });
  }
  // One literal of fixed shape: the hottest response berth sends (src/http/responses.ts).
  const headers: Record<string, string> = {
    'Docker-Distribution-API-Version': apiVersion['Docker-Distribution-API-Version'],
    'Content-Type': found.mediaType,
    'Content-Length': String(found.bytes?.byteLength ?? found.size),
    'Docker-Content-Digest': digest,
    ETag: etag,
  };
  if (warning) headers.Warning = warning.Warning;
  if (found.bytes === undefined) return new Response(null, { status: 200, headers });
  c.set('sent', { status: 200, length: found.bytes.byteLength });
  return new Response(found.bytes, { status: 200, headers });
}

/** PUT /v2/<name>/manifests/<reference>[?tag=...]. */
export async function putManifest(c: Context, registry: Registry, options: HttpOptions): Promise<Response> {
  const name = nameParam(c);
  const ref = referenceParam(c);
  // The limit is enforced while reading rather than on Content-Length alone: answering before the
  // body is read makes the client's write fail (EPIPE) instead of showing it the 413.
  const extraTags = c.req.queries('tag') ?? [];
  const bytes = await readLimited(c.req.raw.body, options.maxManifestBytes, c.req.header('Content-Length'));
  const pushed = await registry.manifests.put(name, ref, bytes, bareMediaType(c.req.header('Content-Type')), extraTags);
  const digest = formatDigest(pushed.digest);
  const headers: Record<string, string> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
  if (pushed.info.subject) headers['OCI-Subject'] = pushed.info.subject.digest;
  // One field with the tags comma-separated: the same header, as HTTP defines repeated fields.
  if (extraTags.length > 0) headers['OCI-Tag'] = pushed.tags.join(', ');
  return empty(201, headers);
}

/** DELETE by digest removes the manifest (with its tags); by tag removes just the tag. */
export async function deleteManifest(c: Context, registry: Registry, options: HttpOptions): Promise<Response> {
  const name = nameParam(c);
  const ref = referenceParam(c);
  if (ref.tag !== undefined) {
    if (!options.delete.tags) throw new OciError('UNSUPPORTED', 'tag deletion is disabled on this registry');
    if (!(await registry.tags.delete(name, ref.tag))) {
      throw new OciError('MANIFEST_UNKNOWN', 'tag unknown to registry', { detail: { tag: ref.tag } });
    }
  } else {
    if (!options.delete.manifests) throw new OciError('UNSUPPORTED', 'manifest deletion is disabled on this registry');
    await registry.manifests.delete(name, ref.digest);
  }
  return empty(202);
}
