import { OciError } from '../oci/errors.ts';
import type { Route } from './router.ts';

/** The answer to a push, delete or mount into a mirrored namespace: the upstream owns its content. */
export const mirroredNamespace = (name: string, route: Route): OciError =>
  new OciError('UNSUPPORTED', `${name} mirrors ${route.upstream.name}: it is read-only here`, {
    detail: { name, upstream: route.upstream.name },
  });
