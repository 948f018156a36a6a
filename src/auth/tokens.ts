/**
 * The tokens berth signs: access tokens per Docker's token spec (an `access` claim listing the
 * granted scopes) and refresh tokens for `offline_token` / `access_type=offline`.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { toSeconds, type Duration } from '../config/duration.ts';
import type { SigningKey } from './keys.ts';
import type { Scope } from './scope.ts';

export interface AccessClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Scope[];
}

export interface RefreshClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  /** Fingerprint of the user's password hash when issued: a changed password ends the token. */
  pwe: string;
}

/**
 * Refresh tokens carry a different audience, so one can never be used as an access token (whose
 * audience is the service), nor an access token to refresh.
 */
export const refreshAudience = (service: string): string => `${service}#refresh`;
export const accessTokenType = 'JWT';
export const refreshTokenType = 'berth-refresh+jwt';

/** Claims of an access token; an anonymous subject is the empty string, as in the token spec. */
export function accessClaims(opts: { issuer: string; service: string; subject: string; access: Scope[]; now: number; lifetime: Duration }): AccessClaims {
  const iat = Math.floor(opts.now / 1000);
  return {
    iss: opts.issuer,
    sub: opts.subject,
    aud: opts.service,
    exp: iat + Math.max(1, Math.round(toSeconds(opts.lifetime))),
    nbf: iat,
    iat,
    jti: randomUUID(),
    access: opts.access.map((s) => ({ type: s.type, name: s.name, actions: [...s.actions] })),
  };
}

export function refreshClaims(opts: { issuer: string; service: string; subject: string; passwordEpoch: string; now: number; lifetime: Duration }): RefreshClaims {
  const iat = Math.floor(opts.now / 1000);
  return {
    iss: opts.issuer,
    sub: opts.subject,
    aud: refreshAudience(opts.service),
    exp: iat + Math.max(1, Math.round(toSeconds(opts.lifetime))),
    iat,
    jti: randomUUID(),
    pwe: opts.passwordEpoch,
  };
}

export async function signClaims(claims: JWTPayload, key: SigningKey, typ: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.privateKey);
}

/**
 * The `access` claim of a verified token as scopes. Entries that are not well formed are dropped:
 * they grant nothing.
 */
export function parseAccessClaim(claim: unknown): Scope[] {
  if (!Array.isArray(claim)) return [];
  const out: Scope[] = [];
  for (const entry of claim as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    out.push({ type, name, actions: actions.filter((a): a is string => typeof a === 'string') });
  }
  return out;
}
