import type { Route } from './router.ts';

/**
 * Why a cached answer could not be confirmed, for its `Warning`: the upstream by name and what it
 * did, in the spec's words (an OciError's message), never a host, port or storage detail.
 */
export const staleReason = (route: Route, why: unknown): string => `${route.upstream.name}: ${why instanceof Error ? why.message : String(why)}`;
