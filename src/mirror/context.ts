import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the mirror learns while serving one request and the HTTP layer must say: the registry's
 * return values carry no headers, so a stale answer is noted here and turned into `Warning`.
 */
export interface RequestNotes {
  warning?: string;
  /** How the mirror answered: `hit`, `miss`, `revalidated` or `stale` (logs and metrics). */
  outcome?: string;
  /** The client's `Accept`, which decides whether a tag's cached manifest will do for it. */
  accept?: string;
}

const notes = new AsyncLocalStorage<RequestNotes>();

export const withNotes = <T>(store: RequestNotes, fn: () => T): T => notes.run(store, fn);

/** Records how the mirror answered the current request; the first answer decides. */
export function noteOutcome(outcome: 'hit' | 'miss' | 'revalidated' | 'stale'): void {
  const store = notes.getStore();
  if (store && store.outcome === undefined) store.outcome = outcome;
}

/** The `Accept` of the request being served; undefined outside HTTP, which admits every type. */
export const currentAccept = (): string | undefined => notes.getStore()?.accept;

/** The outcome noted for the current request, if the mirror took part in it. */
export const currentOutcome = (): string | undefined => notes.getStore()?.outcome;

/** Marks the current response as served from the cache because the upstream could not be asked. */
export function noteStale(reason: string): void {
  noteOutcome('stale');
  const store = notes.getStore();
  // RFC 7234's 110 warn-code; clients (and people reading curl -v) recognise it.
  if (store) store.warning = `110 berth "Response is stale: ${reason.replace(/["\\]/g, "'")}"`;
}
