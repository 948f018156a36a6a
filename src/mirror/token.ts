import { Buffer } from 'node:buffer';

/**
 * The Docker token dance against an upstream: a 401 names a token service (`WWW-Authenticate:
 * Bearer realm=...,service=...,scope=...`); we ask it for a token, with Basic credentials when we
 * have some, and keep the token per scope until shortly before it expires.
 */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses the first challenge of a `WWW-Authenticate` value (RFC 9110 auth-param syntax). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    if (p[1]) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1].toLowerCase(), params };
}

export interface Credentials {
  username: string;
  password: string;
}

export const basicAuth = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

interface CachedToken {
  token: string;
  expires: number;
}

/** The token service answered, but not with a token: its status says whose fault that is. */
export class TokenServiceError extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`upstream token service answered ${status}`);
    this.name = 'TokenServiceError';
    this.status = status;
  }
}

/** What fetching a token needs from the HTTP client: a GET returning status and JSON text. */
export type TokenFetch = (url: string, headers: Record<string, string>) => Promise<{ status: number; text: string }>;

/** Tokens refresh this long before the service says they expire, so none expires in flight. */
const expirySlackMs = 10_000;
/** Docker's token spec: a token without `expires_in` lives 60 seconds. */
const defaultLifetimeS = 60;

export class TokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<string>>();
  readonly #credentials: Credentials | undefined;
  readonly #fetch: TokenFetch;

  constructor(fetch: TokenFetch, credentials?: Credentials) {
    this.#fetch = fetch;
    this.#credentials = credentials;
  }

  /** A token still valid for `key`, if one is cached. */
  cached(key: string): string | undefined {
    const t = this.#tokens.get(key);
    if (t && t.expires > Date.now()) return t.token;
    this.#tokens.delete(key);
    return undefined;
  }

  forget(key: string): void {
    this.#tokens.delete(key);
  }

  /**
   * Answers a Bearer challenge; concurrent requests for the same key share one token request,
   * unless `unshared` asks for a request of its own.
   */
  async obtain(key: string, challenge: Challenge, unshared = false): Promise<string> {
    const pending = unshared ? undefined : this.#pending.get(key);
    if (pending) return pending;
    const p = this.#request(challenge).then(
      (t) => {
        this.#tokens.set(key, t);
        return t.token;
      },
    );
    this.#pending.set(key, p);
    try {
      return await p;
    } finally {
      this.#pending.delete(key);
    }
  }

  async #request(challenge: Challenge): Promise<CachedToken> {
    const { realm, service, scope } = challenge.params;
    if (!realm) throw new Error('upstream Bearer challenge has no realm');
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const s of (scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#credentials) headers.Authorization = basicAuth(this.#credentials);
    const { status, text } = await this.#fetch(url.toString(), headers);
    if (status !== 200) throw new TokenServiceError(status);
    const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error('upstream token service returned no token');
    const lifetime = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : defaultLifetimeS) * 1000;
    return { token, expires: Date.now() + Math.max(lifetime - expirySlackMs, lifetime / 2) };
  }
}
