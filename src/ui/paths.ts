/**
 * The UI's URLs under its base path. A repository name holds slashes, so what follows the name is
 * set off by `/-/`, which no name can contain (a component never is a bare `-`).
 */
import { assets } from './assets.ts';

/** A repository name in a path; valid names need no escaping, anything else is escaped per component. */
const segments = (name: string): string => (/^[a-z0-9._/-]*$/.test(name) ? name : name.split('/').map(encodeURIComponent).join('/'));

/** A tag or digest as a path segment: both are safe there as they are (a colon is allowed in a path). */
const component = (s: string): string => (/^[A-Za-z0-9_.:-]*$/.test(s) ? s : encodeURIComponent(s));

function withQuery(path: string, query: Record<string, string | undefined> | undefined): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

export class Paths {
  /** '' for a UI at the root, else e.g. '/ui'. */
  readonly base: string;

  constructor(base: string) {
    this.base = base === '/' ? '' : base;
  }

  home = (query?: Record<string, string | undefined>): string => withQuery(`${this.base}/`, query);
  repo = (name: string, query?: Record<string, string | undefined>): string => withQuery(`${this.base}/repo/${segments(name)}`, query);
  manifest = (name: string, reference: string): string => `${this.base}/repo/${segments(name)}/-/manifest/${component(reference)}`;
  blob = (name: string, digest: string, query?: Record<string, string | undefined>): string =>
    withQuery(`${this.base}/repo/${segments(name)}/-/blob/${component(digest)}`, query);
  download = (name: string, digest: string): string => `${this.base}/repo/${segments(name)}/-/blob/${component(digest)}/download`;
  remove = (name: string, query?: Record<string, string | undefined>): string => withQuery(`${this.base}/repo/${segments(name)}/-/delete`, query);
  mirror = (): string => `${this.base}/mirror`;
  storage = (): string => `${this.base}/storage`;
  login = (next?: string): string => withQuery(`${this.base}/login`, { next });
  logout = (): string => `${this.base}/logout`;
  asset = (which: keyof typeof assets): string => `${this.base}/assets/${assets[which].name}`;

  /** A path inside the UI that is safe to redirect to after signing in; else the home page. */
  safeNext(next: string | undefined): string {
    if (next === undefined || !next.startsWith(`${this.base}/`) || next.startsWith('//') || /[\\\r\n]/.test(next)) return this.home();
    return next;
  }
}
