/** What handlers record on the Hono context for the layers around them (logs, metrics). */
declare module 'hono' {
  interface ContextVariableMap {
    /** The matched endpoint, as a route pattern: a metric label of bounded cardinality. */
    route?: string;
    /** The repository the request is about, when it names one. */
    repository?: string;
    /** Status and length of a response a runtime wrote itself (native file sending). */
    sent?: { status: number; length: number };
  }
}

export {};
