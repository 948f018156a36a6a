import type { Context } from 'hono';
import { mediaTypes } from '../oci/media-types.ts';
import { OciError } from '../oci/errors.ts';
import { visiblePage } from '../registry/paging.ts';
import type { Registry } from '../registry/registry.ts';
import type { Served } from '../registry/served.ts';
import { json, staleWarning } from './responses.ts';
import { digestParam, nameParam, nextLink, pageParams, pathParam } from './params.ts';

/** A mirror's outcome for the log and metrics, and the `Warning` of a listing its upstream could not confirm. */
function served(c: Context, answer: Served): Record<string, string> {
  if (answer.outcome !== undefined) c.set('upstream', answer.outcome);
  return answer.stale === undefined ? {} : { Warning: staleWarning(answer.stale) };
}

/** GET /v2/<name>/tags/list (spec: Listing Tags). */
export async function listTags(c: Context, registry: Registry): Promise<Response> {
  const name = nameParam(c);
  const request = pageParams(c);
  if (!(await registry.repositoryExists(name))) {
    throw new OciError('NAME_UNKNOWN', 'repository name not known to registry', { detail: { name } });
  }
  const page = await registry.tags.list(name, request);
  const headers = served(c, page);
  if (page.next !== undefined) headers.Link = nextLink(`/v2/${name}/tags/list`, request.n, page.next);
  return json(c, { name, tags: page.items }, headers);
}

/** GET /v2/_catalog. */
export async function catalog(c: Context, registry: Registry): Promise<Response> {
  const request = pageParams(c);
  // With access control on, only the repositories the caller may pull are listed.
  const access = c.get('access');
  const page = access ? await visiblePage((r) => registry.catalog(r), request, (n) => access.mayPull(n)) : await registry.catalog(request);
  const headers: Record<string, string> = {};
  if (page.next !== undefined) headers.Link = nextLink('/v2/_catalog', request.n, page.next);
  return json(c, { repositories: page.items }, headers);
}

/** GET /v2/<name>/referrers/<digest> (spec: Listing Referrers). */
export async function listReferrers(c: Context, registry: Registry): Promise<Response> {
  const name = nameParam(c);
  const subject = digestParam(c);
  const artifactType = c.req.query('artifactType') || undefined;
  const request = pageParams(c);
  const result = await registry.listReferrers(name, subject, artifactType === undefined ? request : { ...request, artifactType });
  const headers = served(c, result);
  if (result.filters.length > 0) headers['OCI-Filters-Applied'] = result.filters.join(',');
  if (result.next !== undefined) {
    const extra: Record<string, string> = artifactType === undefined ? {} : { artifactType };
    headers.Link = nextLink(`/v2/${name}/referrers/${pathParam(c, 'digest')}`, request.n, result.next, extra);
  }
  return json(c, { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: result.items }, headers, mediaTypes.ociIndex);
}
