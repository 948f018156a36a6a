/**
 * The `WWW-Authenticate` challenges and error envelopes of a refused request: 401 UNAUTHORIZED
 * with a Bearer (token mode) or Basic (basic mode) challenge, 403 DENIED, 429 TOOMANYREQUESTS.
 */
import { OciError } from '../oci/errors.ts';
import { formatScope, type Scope } from './scope.ts';

/** Only what a host header can hold: a forged one cannot break out of the quoted realm. */
const hostRe = /^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

const first = (v: string | undefined): string | undefined => v?.split(',')[0]?.trim() || undefined;

/** `<scheme>://<host>` as the client reached us, through a proxy's X-Forwarded-Proto/Host if any. */
export function externalOrigin(url: string, header: (name: string) => string | undefined): string {
  const u = new URL(url);
  const proto = first(header('X-Forwarded-Proto'))?.toLowerCase();
  const scheme = proto === 'http' || proto === 'https' ? proto : u.protocol.slice(0, -1);
  const forwarded = first(header('X-Forwarded-Host'));
  const host = [forwarded, header('Host'), u.host].find((h) => h !== undefined && hostRe.test(h)) ?? u.host;
  return `${scheme}://${host}`;
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export type BearerError = 'invalid_token' | 'insufficient_scope';

export function bearerChallenge(realm: string, service: string, scopes: readonly Scope[], error?: BearerError): string {
  const parts = [`realm=${quote(realm)}`, `service=${quote(service)}`];
  if (scopes.length > 0) parts.push(`scope=${quote(scopes.map(formatScope).join(' '))}`);
  if (error !== undefined) parts.push(`error=${quote(error)}`);
  return `Bearer ${parts.join(',')}`;
}

export const basicChallenge = (realm: string): string => `Basic realm=${quote(realm)}, charset="UTF-8"`;

/** The access a refused request needed, as distribution reports it in `detail`. */
const accessDetail = (scopes: readonly Scope[]): Array<{ Type: string; Name: string; Action: string }> =>
  scopes.flatMap((s) => s.actions.map((a) => ({ Type: s.type, Name: s.name, Action: a })));

export function unauthorized(challenge: string, message: string, scopes: readonly Scope[]): OciError {
  return new OciError('UNAUTHORIZED', message, {
    headers: { 'WWW-Authenticate': challenge },
    ...(scopes.length > 0 ? { detail: accessDetail(scopes) } : {}),
  });
}

export function denied(scopes: readonly Scope[]): OciError {
  return new OciError('DENIED', 'requested access to the resource is denied', { detail: accessDetail(scopes) });
}

export function tooManyRequests(retryAfter: number, message = 'too many failed logins; try again later'): OciError {
  return new OciError('TOOMANYREQUESTS', message, {
    headers: { 'Retry-After': String(retryAfter) },
    detail: { retryAfter },
  });
}
