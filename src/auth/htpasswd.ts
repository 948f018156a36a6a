import { isBcryptHash } from './schema.ts';

export interface HtpasswdResult {
  users: Map<string, string>;
  /** Lines skipped, by number, with the reason (never the line itself: it holds a hash). */
  skipped: Array<{ line: number; reason: string }>;
}

/** Parses an htpasswd file; only bcrypt entries (`htpasswd -B`) are taken. */
export function parseHtpasswd(text: string): HtpasswdResult {
  const users = new Map<string, string>();
  const skipped: HtpasswdResult['skipped'] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || /\s/.test(user)) skipped.push({ line: i + 1, reason: 'not USER:HASH' });
    else if (!isBcryptHash(hash)) skipped.push({ line: i + 1, reason: 'not a bcrypt hash (use htpasswd -B)' });
    else users.set(user, hash);
  }
  return { users, skipped };
}
