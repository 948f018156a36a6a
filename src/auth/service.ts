/**
 * berth's token service, per Docker's token spec: `GET /token` (Basic credentials or anonymous)
 * and `POST /token` (OAuth2 `password` and `refresh_token` grants), plus the JWKS of its key.
 * Granted access is what was asked for intersected with what the rules allow; less is not an error.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Duration } from '../config/duration.ts';
import { OciError } from '../oci/errors.ts';
import { sendText } from '../observability/context.ts';
import type { Logger } from '../observability/log.ts';
import { basicChallenge } from './challenge.ts';
import type { SigningKey } from './keys.ts';
import { parseBasic, type Login } from './login.ts';
import type { Rules } from './rules.ts';
import { formatScope, parseScopes, type Scope } from './scope.ts';
import { accessClaims, accessTokenType, refreshClaims, refreshTokenType, signClaims } from './tokens.ts';
import { safeEqual, type UserStore } from './users.ts';
import type { TokenVerifier } from './verify.ts';

export interface TokenServiceOptions {
  service: string;
  issuer: string;
  lifetime: Duration;
  refreshLifetime: Duration;
  rules: Rules;
  users: UserStore;
  login: Login;
  /** The client's address of a request, for the per-address login throttle. */
  clientAddress: (c: Context) => string;
  /** Resolves once the key is loaded or generated. */
  keys: () => Promise<{ key: SigningKey; verifier: TokenVerifier }>;
  logger: Logger;
}

const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

const json = (c: Context, status: number, body: unknown, headers: Record<string, string>): Response =>
  sendText(c, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(body));

/** The error shape of RFC 6749 §5.2 for POST, with the spec's envelope beside it for Docker clients. */
function oauthError(c: Context, status: 400 | 401, error: string, description: string): Response {
  const envelope = new OciError(status === 401 ? 'UNAUTHORIZED' : 'UNSUPPORTED', description, { status });
  return json(c, status, { error, error_description: description, ...envelope.toJSON() }, noStore);
}

export function tokenService(opts: TokenServiceOptions): Hono {
  const app = new Hono();

  /** Signs an access token for `user` (undefined: anonymous) with what it asked for and may have. */
  async function issue(user: string | undefined, requested: Scope[], offline: boolean): Promise<Record<string, unknown>> {
    const { key } = await opts.keys();
    const granted = opts.rules.grant(opts.rules.principal(user), requested);
    const now = Date.now();
    const claims = accessClaims({ issuer: opts.issuer, service: opts.service, subject: user ?? '', access: granted, now, lifetime: opts.lifetime });
    const token = await signClaims(claims, key, accessTokenType);
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: claims.exp - claims.iat,
      issued_at: new Date(claims.iat * 1000).toISOString(),
      scope: granted.map(formatScope).join(' '),
    };
    const epoch = user === undefined ? undefined : await opts.users.passwordEpoch(user);
    if (offline && user !== undefined && epoch !== undefined) {
      const refresh = refreshClaims({ issuer: opts.issuer, service: opts.service, subject: user, passwordEpoch: epoch, now, lifetime: opts.refreshLifetime });
      body.refresh_token = await signClaims(refresh, key, refreshTokenType);
    }
    opts.logger.debug('token issued', { user: user ?? '', access: body.scope });
    return body;
  }

  /** A token for `user`; the user is named in the request log. */
  const ok = (c: Context, user: string | undefined, body: Record<string, unknown>): Response => {
    if (user !== undefined) c.set('user', user);
    return json(c, 200, body, noStore);
  };

  // Failures are thrown as OciErrors, which the app's error handler writes (src/app.ts).
  app.get('/token', async (c) => {
    const header = c.req.header('Authorization');
    const creds = parseBasic(header);
    const challenge = { 'WWW-Authenticate': basicChallenge(opts.service) };
    let user: string | undefined;
    if (creds === 'invalid' || (header !== undefined && creds === undefined)) {
      throw new OciError('UNAUTHORIZED', 'invalid credentials', { headers: challenge });
    }
    if (creds !== undefined) {
      const result = await opts.login.check(creds, opts.clientAddress(c));
      if (!result.ok) throw result.throttled ?? new OciError('UNAUTHORIZED', 'incorrect username or password', { headers: challenge });
      user = result.user;
    }
    const scopes = parseScopes(c.req.queries('scope') ?? []);
    return ok(c, user, await issue(user, scopes, c.req.query('offline_token') === 'true'));
  });

  // A token request is a few fields; anything larger is not one, and is not read into memory.
  const smallForm = bodyLimit({ maxSize: 64 * 1024, onError: (c) => oauthError(c, 400, 'invalid_request', 'the form is too large') });
  app.post('/token', smallForm, async (c) => {
    let form: Record<string, unknown>;
    try {
      if (!/^application\/x-www-form-urlencoded\b/i.test(c.req.header('Content-Type') ?? '')) {
        return oauthError(c, 400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
      }
      form = await c.req.parseBody();
    } catch {
      return oauthError(c, 400, 'invalid_request', 'unreadable form body');
    }
    const field = (k: string): string | undefined => (typeof form[k] === 'string' ? form[k] : undefined);
    const scopes = parseScopes((field('scope') ?? '').split(' '));
    const grant = field('grant_type');
    if (grant === 'password') {
      const username = field('username');
      const password = field('password');
      if (!username || password === undefined) return oauthError(c, 400, 'invalid_request', 'username and password are required');
      const result = await opts.login.check({ user: username, password }, opts.clientAddress(c));
      if (!result.ok) {
        if (result.throttled) throw result.throttled;
        return oauthError(c, 400, 'invalid_grant', 'incorrect username or password');
      }
      return ok(c, result.user, await issue(result.user, scopes, field('access_type') === 'offline'));
    }
    if (grant === 'refresh_token') {
      const refresh = field('refresh_token');
      if (!refresh) return oauthError(c, 400, 'invalid_request', 'refresh_token is required');
      const { verifier } = await opts.keys();
      let subject: string;
      try {
        const claims = await verifier.verifyRefresh(refresh);
        const epoch = await opts.users.passwordEpoch(claims.subject);
        // Unknown user or a password changed since: the refresh token is dead.
        if (epoch === undefined || !safeEqual(epoch, claims.passwordEpoch)) throw new Error('stale');
        subject = claims.subject;
      } catch {
        return oauthError(c, 400, 'invalid_grant', 'invalid refresh token');
      }
      const body = await issue(subject, scopes, false);
      return ok(c, subject, { ...body, refresh_token: refresh });
    }
    return oauthError(c, 400, 'unsupported_grant_type', 'grant_type must be password or refresh_token');
  });

  const jwks = async (c: Context): Promise<Response> => {
    const { key } = await opts.keys();
    return json(c, 200, { keys: [key.publicJwk] }, { 'Cache-Control': 'public, max-age=300' });
  };
  app.get('/token/jwks.json', jwks);
  app.get('/.well-known/jwks.json', jwks);
  return app;
}
