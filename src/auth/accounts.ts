/**
 * What a sign-in outside the registry protocol (the web UI) needs from access control: the same
 * users, failed-login throttle and rules as the API, so one policy decides everywhere.
 */
import type { Context } from 'hono';
import type { Login, LoginResult } from './login.ts';
import type { Rules } from './rules.ts';
import type { RepositoryAction } from './scope.ts';
import type { UserStore } from './users.ts';

export interface Accounts {
  /** Checks a password behind the throttle (a 429-style refusal comes back as `throttled`). */
  login(user: string, password: string, c: Context): Promise<LoginResult>;
  /**
   * A fingerprint of the user's password, undefined once the user is gone: a session that carries
   * it ends when the password changes or the user is removed.
   */
  stamp(user: string): Promise<string | undefined>;
  /** The actions `user` (undefined: anonymous) may take on repository `name`. */
  actions(user: string | undefined, name: string): ReadonlySet<RepositoryAction>;
  /** Whether `user` may list repositories (`catalog: true` in a rule that applies). */
  mayListCatalog(user: string | undefined): boolean;
}

export function accounts(parts: { login: Login; users: UserStore; rules: Rules; ready: () => Promise<void>; clientAddress: (c: Context) => string }): Accounts {
  const { login, users, rules } = parts;
  return {
    async login(user, password, c) {
      await parts.ready();
      return login.check({ user, password }, parts.clientAddress(c));
    },
    stamp: (user) => users.passwordEpoch(user),
    actions: (user, name) => rules.actions(rules.principal(user), name),
    mayListCatalog: (user) => rules.mayListCatalog(rules.principal(user)),
  };
}
