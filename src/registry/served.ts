import type { Outcome } from '../observability/context.ts';

export type { Outcome };

/**
 * What a layer around the registry adds to an answer, as part of the answer itself; HTTP turns it
 * into a `Warning` header, logs and metrics. A plain registry leaves both out.
 */
export interface Served {
  outcome?: Outcome | undefined;
  /** Why a cached answer could not be confirmed by its upstream. */
  stale?: string | undefined;
}
