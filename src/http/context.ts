import type { PathParams } from '../oci/endpoints.ts';

/** What handlers record on the Hono context for the layers around them (logs, metrics). */
declare module 'hono' {
  interface ContextVariableMap {
    /** The matched endpoint, as a route pattern: a metric label of bounded cardinality. */
    route?: string;
    /** The parameters of the request's path, as the endpoint table read them. */
    params?: PathParams;
    /** The repository the request is about, when it names one. */
    repository?: string;
    /**
     * Status and body length of the response, recorded where they are known without reading the
     * response back (a runtime writing natively, bodies held in memory): on Node, reading a
     * response's headers turns the adapter's lightweight response into a full one.
     */
    sent?: { status: number; length: number };
  }
}

export {};
