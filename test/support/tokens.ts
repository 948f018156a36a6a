/** Forging tokens for the hostile-token tests: good keys with bad claims, and bad keys and algorithms. */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, SignJWT, type JWTPayload } from 'jose';

export interface TestKey {
  pem: string;
  kid: string;
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** The public JWK (what a JWKS publishes). */
  publicJwk: Record<string, unknown>;
}

export async function makeKey(alg: 'ES256' | 'RS256' = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const key = await importPKCS8(pem, alg);
  return {
    pem,
    kid,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    sign: (claims, header = {}) => new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(key),
  };
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An unsecured JWT (`alg: none`, empty signature). */
export const unsignedToken = (claims: JWTPayload, header: Record<string, unknown> = {}): string =>
  `${b64({ alg: 'none', typ: 'JWT', ...header })}.${b64(claims)}.`;

/** HS256 keyed with public key material: the classic algorithm-confusion forgery. */
export async function hmacToken(secret: string, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const { createHmac } = await import('node:crypto');
  const head = b64({ alg: 'HS256', typ: 'JWT', ...header });
  const body = b64(claims);
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The token with its payload replaced and the original signature kept. */
export function tamper(token: string, change: (claims: Record<string, unknown>) => Record<string, unknown>): string {
  const [head = '', body = '', sig = ''] = token.split('.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${head}.${b64(change(claims))}.${sig}`;
}

/** Claims like berth's for `access`, valid now unless overridden. */
export function claims(access: Array<{ type: string; name: string; actions: string[] }>, over: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'berth', sub: 'alice', aud: 'berth', iat: now, nbf: now, exp: now + 300, jti: `t-${Math.random()}`, access, ...over };
}
