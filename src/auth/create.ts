/** Builds access control from config: the `/v2/` gate, the token service routes, and readiness. */
import { Hono, type MiddlewareHandler } from 'hono';
import type { Logger } from '../observability/log.ts';
import { accounts, type Accounts } from './accounts.ts';
import { clientAddressOf, type PeerAddress } from './address.ts';
import { loadSigningKey, type SigningKey } from './keys.ts';
import { Login } from './login.ts';
import { PasswordChecker } from './passwords.ts';
import { basicGate, tokenGate } from './middleware.ts';
import { Rules } from './rules.ts';
import type { AuthConfig } from './schema.ts';
import { tokenService } from './service.ts';
import { FleetThrottle, Throttle } from './throttle.ts';
import type { Coordination } from '../coordination/types.ts';
import { UserStore } from './users.ts';
import { TokenVerifier } from './verify.ts';

export interface Auth {
  /** For `/v2/*`. */
  gate: MiddlewareHandler;
  /** `/token` and the JWKS in token mode; nothing in basic mode. */
  routes: Hono;
  /** Resolves once users, keys and issuers are loaded; rejects with the reason they cannot be. */
  ready: Promise<void>;
  /** Stops the password-checking thread. */
  close(): Promise<void>;
  /** Sign-in and rules for the web UI. */
  accounts: Accounts;
}

/**
 * Access control for the `auth:` block, or undefined when it is off (`mode: none`). A generated
 * token key is kept in `dataDir` (local-disk storage); without one, `token.key` is required.
 * `peer` tells the client address of a request, for the per-address login throttle; with
 * `coordination`, failed logins are counted across the fleet.
 */
export function createAuth(cfg: AuthConfig, dataDir: string | undefined, logger: Logger, peer?: PeerAddress, coordination?: Coordination): Auth | undefined {
  if (cfg.mode === 'none') return undefined;
  const rules = new Rules(cfg.rules, cfg.groups);
  const passwords = new PasswordChecker(logger);
  const users = new UserStore(cfg.users, cfg.htpasswd, logger, passwords);
  const { throttle: t, token } = cfg;
  const policy = { attempts: (key: string) => (key.startsWith('addr:') ? t.addressAttempts : t.attempts), delay: t.delay, maxDelay: t.maxDelay };
  const local = new Throttle(policy);
  const throttle = coordination ? new FleetThrottle(local, coordination.failures(policy)) : local;
  const login = new Login(users, throttle, logger);
  const clientAddress = clientAddressOf(peer, t.trustForwardedFor);
  const routes = new Hono();

  if (cfg.mode === 'basic') {
    const ready = users.init();
    // Reported by whoever awaits `ready` (perhaps only after storage is ready): not an unhandled rejection.
    ready.catch(() => undefined);
    const gate = basicGate({ realm: cfg.basic.realm, rules, login, ready: () => ready, clientAddress });
    return { gate, routes, ready, accounts: accounts({ login, users, rules, ready: () => ready, clientAddress }), close: () => passwords.close() };
  }

  const keys = (async (): Promise<{ key: SigningKey; verifier: TokenVerifier }> => {
    await users.init();
    if (token.key === undefined && dataDir === undefined) {
      // Replicas on shared storage must sign with one key; generating one each would split them.
      throw new Error('auth.token.key is required when storage is not on local disk (every replica must sign with the same key)');
    }
    const key = await loadSigningKey({
      dataDir: dataDir ?? '',
      ...(token.key === undefined ? {} : { file: token.key }),
      ...(token.algorithm === undefined ? {} : { algorithm: token.algorithm }),
    });
    if (key.warning) logger.warn(key.warning);
    logger.info('token signing key', { source: key.source, alg: key.alg, kid: key.kid });
    const verifier = await TokenVerifier.create({
      service: token.service,
      leeway: token.leeway,
      logger,
      builtIn: { issuer: token.issuer, key },
      issuers: token.issuers,
    });
    return { key, verifier };
  })();
  keys.catch(() => undefined);
  const gate = tokenGate({ service: token.service, realm: token.realm, rules, verifier: async () => (await keys).verifier, logger });
  routes.route(
    '/',
    tokenService({
      service: token.service,
      issuer: token.issuer,
      lifetime: token.lifetime,
      refreshLifetime: token.refreshLifetime,
      rules,
      users,
      login,
      clientAddress,
      keys: () => keys,
      logger,
    }),
  );
  const ready = keys.then(() => undefined);
  ready.catch(() => undefined);
  return { gate, routes, ready, accounts: accounts({ login, users, rules, ready: () => ready, clientAddress }), close: () => passwords.close() };
}
