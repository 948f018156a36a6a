import type { Route } from './router.ts';

/**
 * Why a cached answer could not be confirmed, for its `Warning`: the upstream by name and what it
 * did, in the spec's words (an OciError's message, which names the upstream when it is about it),
 * never a host, port or storage detail.
 */
export function staleReason(route: Route, why: unknown): string {
  const message = why instanceof Error ? why.message : String(why);
  return message.startsWith(`upstream ${route.upstream.name} `) ? message : `${route.upstream.name}: ${message}`;
}
