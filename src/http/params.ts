import type { Context } from 'hono';
import { parseDigest, type Digest } from '../oci/digest.ts';
import type { PathParams } from '../oci/endpoints.ts';
import { OciError } from '../oci/errors.ts';
import { validateName } from '../oci/names.ts';
import type { PageRequest } from '../registry/paging.ts';
import '../observability/context.ts';

/** A parameter of the request's path, as the endpoint table read it (src/http/routes.ts). */
export function pathParam(c: Context, key: keyof PathParams): string {
  return c.get('endpoint')?.params[key] ?? '';
}

export function nameParam(c: Context): string {
  return validateName(pathParam(c, 'name'));
}

export function digestParam(c: Context): Digest {
  return parseDigest(pathParam(c, 'digest'));
}

/** `n` and `last` of the listing endpoints; `n` must be a non-negative integer. */
export function pageParams(c: Context): PageRequest {
  const request: PageRequest = {};
  const n = c.req.query('n');
  if (n !== undefined) {
    if (!/^\d{1,9}$/.test(n)) {
      throw new OciError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { detail: { n: n.slice(0, 20) } });
    }
    request.n = Number(n);
  }
  const last = c.req.query('last');
  if (last !== undefined && last !== '') request.last = last;
  return request;
}

/** The declared body length, when the client sent a usable `Content-Length`. */
export function contentLength(c: Context): number | undefined {
  const v = c.req.header('Content-Length');
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v.trim())) throw new OciError('SIZE_INVALID', 'invalid Content-Length');
  return Number(v);
}

/** The `Link: <...>; rel="next"` header of RFC 8288 for a paged listing. */
export function nextLink(path: string, n: number | undefined, last: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams(extra);
  if (n !== undefined) query.set('n', String(n));
  query.set('last', last);
  return `<${path}?${query.toString()}>; rel="next"`;
}
