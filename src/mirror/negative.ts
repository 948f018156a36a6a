import { LRUCache } from 'lru-cache';

/** Entries kept per upstream at most; the oldest go first. */
const maxEntries = 10_000;

/**
 * An upstream's recent "not found" answers (404, or 401/403 after the token dance, which is how
 * Docker Hub says a repository does not exist), remembered for a short TTL so that a tag nobody
 * has pushed is not asked for on every pull. Keyed by what was asked: repository, path (a tag, a
 * digest) and manifest types, since a registry may refuse a manifest for one `Accept` and not
 * another. A HEAD and a GET of the same thing share the answer.
 */
export class NotFoundCache {
  readonly #ttl: number;
  readonly #answers: LRUCache<string, number> | undefined;

  constructor(ttlMs: number) {
    this.#ttl = ttlMs;
    this.#answers = ttlMs > 0 ? new LRUCache<string, number>({ max: maxEntries, ttl: ttlMs }) : undefined;
  }

  /** The status remembered for this request, while it is fresh. */
  get(repository: string, path: string, accept: string | undefined): number | undefined {
    return this.#answers?.get(key(repository, path, accept));
  }

  /** Remembers a "not found" of manifests and blobs; anything else is not this cache's. */
  note(repository: string, path: string, accept: string | undefined, status: number): void {
    if (!this.#answers || !notFound(status) || !cacheable(path)) return;
    this.#answers.set(key(repository, path, accept), status, { ttl: this.#ttl });
  }
}

const key = (repository: string, path: string, accept: string | undefined): string => `${repository}\n${path}\n${accept ?? ''}`;

const notFound = (status: number): boolean => status === 404 || status === 401 || status === 403;

/** Manifests and blobs: tag lists and token requests are answered by the upstream every time. */
const cacheable = (path: string): boolean => /^(manifests|blobs)\/[^/?]+$/.test(path);
