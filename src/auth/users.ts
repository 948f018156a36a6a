import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../observability/log.ts';
import { parseHtpasswd } from './htpasswd.ts';
import type { CheckResult, PasswordChecker } from './passwords.ts';

/** How often the htpasswd file's modification time is looked at. */
const recheckMs = 2000;
/** A verified password is remembered this long, so Basic auth on every request is not a bcrypt each. */
const cacheMs = 5 * 60_000;
const cacheEntries = 1000;

/** bcrypt's cost (its `$2y$NN$`), the exponent of its work. */
const costOf = (hash: string): number => Number(hash.slice(4, 6));

/** The cost most users' hashes have (the higher on a tie): what an unknown user's check costs. */
function usualCost(hashes: Iterable<string>): number | undefined {
  const counts = new Map<number, number>();
  for (const h of hashes) counts.set(costOf(h), (counts.get(costOf(h)) ?? 0) + 1);
  let best: [number, number] | undefined;
  for (const [cost, n] of counts) if (!best || n > best[1] || (n === best[1] && cost > best[0])) best = [cost, n];
  return best?.[0];
}

/**
 * The users berth knows: those in config, then those of the htpasswd file (re-read when it
 * changes). Checks passwords with bcrypt, off the event loop; an unknown user is checked against
 * a dummy hash of the users' usual cost, so a wrong name costs what a wrong password costs.
 */
export class UserStore {
  readonly #configured: ReadonlyMap<string, string>;
  readonly #file: string | undefined;
  readonly #logger: Logger;
  readonly #checker: PasswordChecker;
  #fromFile = new Map<string, string>();
  #unknownCost: number | undefined;
  #mtime = -1;
  #checked = 0;
  // Keys are HMACs under a per-process secret, so the cache holds nothing a password can be read from.
  readonly #secret = randomBytes(32);
  readonly #verified = new Map<string, { hash: string; until: number }>();

  constructor(users: Readonly<Record<string, { password: string }>>, htpasswd: string | undefined, logger: Logger, checker: PasswordChecker) {
    this.#configured = new Map(Object.entries(users).map(([name, u]) => [name, u.password]));
    this.#file = htpasswd;
    this.#logger = logger;
    this.#checker = checker;
    this.#unknownCost = usualCost(this.#configured.values());
  }

  /** Reads the htpasswd file; fails when it cannot be read, so a typo stops startup. */
  async init(): Promise<void> {
    if (this.#file !== undefined) await this.#load(true);
    this.#checker.prepare(this.#unknownCost);
  }

  async #load(strict: boolean): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    this.#checked = Date.now();
    try {
      const { mtimeMs } = await stat(file);
      if (mtimeMs === this.#mtime) return;
      const { users, skipped } = parseHtpasswd(await readFile(file, 'utf8'));
      for (const s of skipped) this.#logger.warn('htpasswd line skipped', { file, line: s.line, reason: s.reason });
      this.#fromFile = users;
      this.#mtime = mtimeMs;
      this.#unknownCost = usualCost([...this.#configured.values(), ...users.values()]);
    } catch (e) {
      if (strict) throw new Error(`cannot read htpasswd file ${file}: ${e instanceof Error ? e.message : String(e)}`);
      // Keep the users we had: a file being replaced must not lock everyone out.
      this.#logger.warn('htpasswd file unreadable, keeping the previous users', { file, error: e instanceof Error ? e.message : String(e) });
    }
  }

  async hashOf(user: string): Promise<string | undefined> {
    if (this.#file !== undefined && Date.now() - this.#checked > recheckMs) await this.#load(false);
    return this.#configured.get(user) ?? this.#fromFile.get(user);
  }

  async exists(user: string): Promise<boolean> {
    return (await this.hashOf(user)) !== undefined;
  }

  /** Whether `password` is the user's; 'busy' when too many checks are waiting already. */
  async verify(user: string, password: string): Promise<CheckResult> {
    const hash = await this.hashOf(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).digest('base64');
    const cached = this.#verified.get(key);
    if (hash !== undefined && cached && cached.until > Date.now() && cached.hash === hash) return true;
    const ok = await this.#checker.check(password, hash, this.#unknownCost);
    if (ok === true && hash !== undefined) {
      if (this.#verified.size >= cacheEntries) this.#verified.delete(this.#verified.keys().next().value ?? '');
      this.#verified.set(key, { hash, until: Date.now() + cacheMs });
    }
    return ok;
  }

  /**
   * A short fingerprint of the user's password hash: refresh tokens carry it, so changing a
   * password ends the refresh tokens issued before.
   */
  async passwordEpoch(user: string): Promise<string | undefined> {
    const hash = await this.hashOf(user);
    return hash === undefined ? undefined : createHash('sha256').update(hash).digest('base64url').slice(0, 16);
  }
}

/** Constant-time equality of two strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
