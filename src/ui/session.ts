/**
 * Sessions as signed cookies: who signed in (or nobody), a random nonce the CSRF token is derived
 * from, an expiry, and a fingerprint of the user's password so a changed password or a removed user
 * ends the session. Nothing is kept on the server, so any replica with the same secret can read it.
 */
import { Buffer } from 'node:buffer';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duration } from '../config/duration.ts';

export interface Session {
  user?: string;
  nonce: string;
  /** Milliseconds since the epoch. */
  expires: number;
  stamp?: string;
}

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Sessions {
  readonly #secret: Uint8Array;
  readonly lifetimeMs: number;

  /** `secret` undefined: a random one, so sessions end with this process. */
  constructor(secret: string | undefined, lifetime: Duration) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    this.lifetimeMs = lifetime;
  }

  #mac(purpose: string, data: string): string {
    return createHmac('sha256', this.#secret).update(purpose).update('\0').update(data).digest('base64url');
  }

  create(user?: string, stamp?: string): Session {
    const s: Session = { nonce: b64(randomBytes(18)), expires: Date.now() + this.lifetimeMs };
    if (user !== undefined) s.user = user;
    if (stamp !== undefined) s.stamp = stamp;
    return s;
  }

  encode(s: Session): string {
    const payload = b64(JSON.stringify({ u: s.user, n: s.nonce, e: s.expires, s: s.stamp }));
    return `${payload}.${this.#mac('session', payload)}`;
  }

  /** The session a cookie value holds, if its signature is ours and it has not expired. */
  decode(value: string | undefined): Session | undefined {
    if (!value || value.length > 4096) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    if (!sameBytes(value.slice(dot + 1), this.#mac('session', payload))) return undefined;
    let doc: { u?: unknown; n?: unknown; e?: unknown; s?: unknown };
    try {
      doc = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof doc;
    } catch {
      return undefined;
    }
    if (typeof doc.n !== 'string' || typeof doc.e !== 'number' || doc.e <= Date.now()) return undefined;
    const s: Session = { nonce: doc.n, expires: doc.e };
    if (typeof doc.u === 'string') s.user = doc.u;
    if (typeof doc.s === 'string') s.stamp = doc.s;
    return s;
  }

  /** The token a form of this session carries; a page of another session (or site) cannot know it. */
  csrfToken(s: Session): string {
    return this.#mac('csrf', s.nonce);
  }

  checkCsrf(s: Session, token: string | undefined): boolean {
    return token !== undefined && sameBytes(token, this.csrfToken(s));
  }
}
