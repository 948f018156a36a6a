/**
 * The `/v2/` gate: works out what the request needs (scope.ts), who is asking (a Bearer token or
 * Basic credentials), and either lets it through with a RequestAccess for the handlers or throws
 * the OciError (the challenge a client needs to get access) that the app's error handler writes.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { OciError } from '../oci/errors.ts';
import type { Logger } from '../observability/log.ts';
import { basicChallenge, bearerChallenge, denied, externalOrigin, unauthorized } from './challenge.ts';
import '../observability/context.ts';
import { parseBasic, type Login } from './login.ts';
import { anonymous, type Principal, type Rules } from './rules.ts';
import { formatScope, missingScopes, requiredAccess, type Requirement, type Scope } from './scope.ts';
import type { TokenVerifier } from './verify.ts';

const requirementOf = (c: Context): Requirement => requiredAccess(c.req.method, c.req.path);
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
    const requirement = requirementOf(c);
    const verifier = await opts.verifier();
    const required = scopesOf(requirement);
    const realm = realmOf(c, opts.realm);
    const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '')?.[1];
    if (token === undefined) {
      throw unauthorized(bearerChallenge(realm, opts.service, required), 'authentication required', required);
    }
    let verified;
    try {
      verified = await verifier.verifyAccess(token);
    } catch (e) {
      const message = e instanceof Error ? e.message : 'invalid token';
      opts.logger.debug('token refused', { reason: message, method: c.req.method, path: c.req.path });
      throw unauthorized(bearerChallenge(realm, opts.service, required, 'invalid_token'), message, required);
    }
    const missing = missingScopes(verified.access, required);
    if (verified.subject !== '') c.set('user', verified.subject);
    if (missing.length > 0) {
      // 401, not 403: clients answer it by fetching a token for the scopes the challenge names.
      const message = `insufficient scope: the token does not grant ${missing.map(formatScope).join(' ')}`;
      throw unauthorized(bearerChallenge(realm, opts.service, required, 'insufficient_scope'), message, missing);
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
    const requirement = requirementOf(c);
    await opts.ready();
    const required = scopesOf(requirement);
    const challenge = (message: string): OciError => unauthorized(basicChallenge(opts.realm), message, required);
    const header = c.req.header('Authorization');
    const creds = parseBasic(header);
    if (creds === 'invalid' || (header !== undefined && creds === undefined)) throw challenge('invalid credentials');
    let principal: Principal = anonymous;
    if (creds !== undefined) {
      const result = await opts.login.check(creds, opts.clientAddress(c));
      if (!result.ok) throw result.throttled ?? challenge('invalid credentials');
      principal = opts.rules.principal(result.user);
      c.set('user', result.user);
    }
    const allowed = requirement.kind === 'authenticated' ? principal.user !== undefined : opts.rules.allows(principal, required);
    if (!allowed) throw principal.user === undefined ? challenge('authentication required') : denied(required);
    c.set('access', { user: principal.user, mayPull: (name) => opts.rules.may(principal, name, 'pull') });
    await next();
  };
}
