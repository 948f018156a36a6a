import type { EndpointMatch } from '../oci/endpoints.ts';
import type { Outcome } from '../registry/served.ts';

/** What handlers record on the Hono context for the layers around them (logs, metrics). */
declare module 'hono' {
  interface ContextVariableMap {
    /**
     * The endpoint the path names (src/oci/endpoints.ts): its route pattern (a metric label of
     * bounded cardinality) and the path's parameters, the repository name among them.
     */
    endpoint?: EndpointMatch;
    /**
     * Status and body length of the response, recorded where they are known without reading the
     * response back (a runtime writing natively, bodies held in memory): on Node, reading a
     * response's headers turns the adapter's lightweight response into a full one.
     */
    sent?: { status: number; length: number };
    /** How a mirror answered (`hit`, `miss`, `revalidated`, `stale`), when one took part. */
    upstream?: Outcome;
  }
}

export {};
