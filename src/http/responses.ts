/** The header every /v2/ response carries (spec: API Version Check). */
export const apiVersion = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/**
 * A response with no body. 201/202 say `Content-Length: 0` so they are not sent chunked; 204 and
 * 304 must not carry the header at all.
 */
export function empty(status: number, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  if (status !== 204 && status !== 304) h.set('Content-Length', '0');
  return new Response(null, { status, headers: h });
}
