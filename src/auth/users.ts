import bcrypt from 'bcryptjs';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../observability/log.ts';
import { parseHtpasswd } from './htpasswd.ts';

// Compared against when the user is unknown, so a wrong name costs as long as a wrong password
// (cost 10, like the hashes htpasswd -B writes). Nothing logs in with it: the user is unknown.
const dummyHash = '$2b$10$0sJj4HITjYccq7P2LTYtIe8QQUEsD0jUaZhwKu3/ps44S3pI9Vq3O';

/** How often the htpasswd file's modification time is looked at. */
const recheckMs = 2000;
/** A verified password is remembered this long, so Basic auth on every request is not a bcrypt each. */
const cacheMs = 5 * 60_000;
const cacheEntries = 1000;

/**
 * The users berth knows: those in config, then those of the htpasswd file (re-read when it
 * changes). Checks passwords with bcrypt in constant time.
 */
export class UserStore {
  readonly #configured: ReadonlyMap<string, string>;
  readonly #file: string | undefined;
  readonly #logger: Logger;
  #fromFile = new Map<string, string>();
  #mtime = -1;
  #checked = 0;
  // Keys are HMACs under a per-process secret, so the cache holds nothing a password can be read from.
  readonly #secret = randomBytes(32);
  readonly #verified = new Map<string, { hash: string; until: number }>();

  constructor(users: Readonly<Record<string, { password: string }>>, htpasswd: string | undefined, logger: Logger) {
    this.#configured = new Map(Object.entries(users).map(([name, u]) => [name, u.password]));
    this.#file = htpasswd;
    this.#logger = logger;
  }

  /** Reads the htpasswd file; fails when it cannot be read, so a typo stops startup. */
  async init(): Promise<void> {
    if (this.#file !== undefined) await this.#load(true);
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

  /** Whether `password` is the user's. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = await this.hashOf(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).digest('base64');
    const cached = this.#verified.get(key);
    if (hash !== undefined && cached && cached.until > Date.now() && cached.hash === hash) return true;
    const ok = (await bcrypt.compare(password, hash ?? dummyHash)) && hash !== undefined;
    if (ok) {
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
