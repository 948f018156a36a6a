/**
 * The `/v2/` gate: works out what the request needs (scope.ts), who is asking (a Bearer token or
 * Basic credentials), and either lets it through with a RequestAccess for the handlers or answers
 * with the challenge a client needs to get access.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { errorResponse, toOciError } from '../http/errors.ts';
import type { Logger } from '../observability/log.ts';
import { basicChallenge, bearerChallenge, denied, externalOrigin, unauthorized } from './challenge.ts';
import './context.ts';
import { parseBasic, type Login } from './login.ts';
import { anonymous, type Principal, type Rules } from './rules.ts';
import { formatScope, missingScopes, requiredAccess, type Requirement, type Scope } from './scope.ts';
import type { TokenVerifier } from './verify.ts';

const requirementOf = (c: Context): Requirement => requiredAccess(c.req.method, c.req.path, (k) => c.req.query(k));
const scopesOf = (r: Requirement): Scope[] => (r.kind === 'scopes' ? r.scopes : []);

/** The token endpoint as clients should reach it: configured, or this request's origin + `/token`. */
export function realmOf(c: Context, configured: string | undefined): string {
  return configured ?? `${externalOrigin(c.req.url, (h) => c.req.header(h))}/token`;
}

export interface TokenGateOptions {
  service: string;
  realm: string | undefined;
  rules: Rules;
  verifier: () => Promise<TokenVerifier>;
  logger: Logger;
}

/** Token mode: a valid Bearer token whose `access` claim covers the request, or a 401 challenge. */
export function tokenGate(opts: TokenGateOptions): MiddlewareHandler {
  return async (c, next) => {
    let requirement: Requirement;
    let verifier: TokenVerifier;
    try {
      requirement = requirementOf(c);
      verifier = await opts.verifier();
    } catch (e) {
      return errorResponse(c, toOciError(e));
    }
    const required = scopesOf(requirement);
    const realm = realmOf(c, opts.realm);
    const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '')?.[1];
    if (token === undefined) {
      return errorResponse(c, unauthorized(bearerChallenge(realm, opts.service, required), 'authentication required', required));
    }
    let verified;
    try {
      verified = await verifier.verifyAccess(token);
    } catch (e) {
      const message = e instanceof Error ? e.message : 'invalid token';
      opts.logger.debug('token refused', { reason: message, method: c.req.method, path: c.req.path });
      return errorResponse(c, unauthorized(bearerChallenge(realm, opts.service, required, 'invalid_token'), message, required));
    }
    const missing = missingScopes(verified.access, required);
    if (missing.length > 0) {
      // 401, not 403: clients answer it by fetching a token for the scopes the challenge names.
      const message = `insufficient scope: the token does not grant ${missing.map(formatScope).join(' ')}`;
      return errorResponse(c, unauthorized(bearerChallenge(realm, opts.service, required, 'insufficient_scope'), message, missing));
    }
    const principal = opts.rules.principal(verified.subject === '' ? undefined : verified.subject);
    c.set('access', {
      user: verified.subject === '' ? undefined : verified.subject,
      mayPull: (name) =>
        opts.rules.may(principal, name, 'pull') ||
        missingScopes(verified.access, [{ type: 'repository', name, actions: ['pull'] }]).length === 0,
    });
    await next();
  };
}

export interface BasicGateOptions {
  realm: string;
  rules: Rules;
  login: Login;
  ready: () => Promise<void>;
  /** The client's address of a request, for the per-address login throttle. */
  clientAddress: (c: Context) => string;
}

/**
 * Basic mode: credentials on every request (or none, for what anonymous may do). Bad or missing
 * credentials get a Basic challenge; a known user without the rights gets 403 DENIED.
 */
export function basicGate(opts: BasicGateOptions): MiddlewareHandler {
  return async (c, next) => {
    let requirement: Requirement;
    try {
      requirement = requirementOf(c);
      await opts.ready();
    } catch (e) {
      return errorResponse(c, toOciError(e));
    }
    const required = scopesOf(requirement);
    const challenge = (message: string): Response => errorResponse(c, unauthorized(basicChallenge(opts.realm), message, required));
    const header = c.req.header('Authorization');
    const creds = parseBasic(header);
    if (creds === 'invalid' || (header !== undefined && creds === undefined)) return challenge('invalid credentials');
    let principal: Principal = anonymous;
    if (creds !== undefined) {
      const result = await opts.login.check(creds, opts.clientAddress(c));
      if (!result.ok) return result.throttled ? errorResponse(c, result.throttled) : challenge('invalid credentials');
      principal = opts.rules.principal(result.user);
    }
    const allowed = requirement.kind === 'authenticated' ? principal.user !== undefined : opts.rules.allows(principal, required);
    if (!allowed) return principal.user === undefined ? challenge('authentication required') : errorResponse(c, denied(required));
    c.set('access', { user: principal.user, mayPull: (name) => opts.rules.may(principal, name, 'pull') });
    await next();
  };
}
