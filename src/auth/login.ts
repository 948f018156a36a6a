/**
 * Password logins (Basic credentials, the OAuth2 password grant), behind the failed-login throttle.
 * Logs name the user and address, never a password.
 */
import type { Logger } from '../observability/log.ts';
import { tooManyRequests } from './challenge.ts';
import type { OciError } from '../oci/errors.ts';
import type { LoginThrottle } from './throttle.ts';
import type { UserStore } from './users.ts';

export interface Credentials {
  user: string;
  password: string;
}

/** `Authorization: Basic …` decoded; undefined when absent, `invalid` when malformed. */
export function parseBasic(header: string | undefined): Credentials | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) return /^Basic\b/i.test(header) ? 'invalid' : undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(m[1]), (ch) => ch.charCodeAt(0)));
  } catch {
    return 'invalid';
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return 'invalid';
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export type LoginResult = { ok: true; user: string } | { ok: false; throttled?: OciError };

export class Login {
  readonly #users: UserStore;
  readonly #throttle: LoginThrottle;
  readonly #logger: Logger;

  constructor(users: UserStore, throttle: LoginThrottle, logger: Logger) {
    this.#users = users;
    this.#throttle = throttle;
    this.#logger = logger;
  }

  async check(creds: Credentials, address: string): Promise<LoginResult> {
    // Names are bounded so a made-up one cannot bloat the throttle's table or the logs.
    const user = creds.user.slice(0, 128);
    // Without a known address (a runtime that does not pass it on) one shared bucket would let one
    // client lock out everyone, so only the per-user limit applies then.
    const keys = address === 'unknown' ? [`user:${user}`] : [`user:${user}`, `addr:${address}`];
    const wait = await this.#throttle.retryAfter(keys);
    if (wait > 0) {
      this.#logger.warn('login throttled', { user, address, retryAfter: wait });
      return { ok: false, throttled: tooManyRequests(wait) };
    }
    const verified = user === creds.user && creds.password.length <= 1024 ? await this.#users.verify(user, creds.password) : false;
    if (verified === 'busy') {
      // More logins than bcrypt keeps up with: shed this one rather than let the queue grow.
      this.#logger.warn('login shed: too many password checks waiting', { user, address });
      return { ok: false, throttled: tooManyRequests(1, 'too many logins at once; try again shortly') };
    }
    if (verified) {
      await this.#throttle.succeed(`user:${user}`);
      return { ok: true, user };
    }
    await this.#throttle.fail(keys);
    this.#logger.info('login failed', { user, address });
    return { ok: false };
  }
}
