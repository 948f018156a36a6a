/**
 * The web UI's routes, mounted into the registry's Hono app (src/app.ts). Every page request
 * carries a session (a signed cookie, anonymous until someone signs in); every POST must come from
 * this origin and carry the session's CSRF token; every response forbids framing, inline script
 * and foreign resources, so what the registry's content puts on a page stays text.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { generateCookie, getCookie } from 'hono/cookie';
import type { Accounts } from '../auth/accounts.ts';
import { externalOrigin } from '../auth/challenge.ts';
import { toSeconds, type Duration } from '../config/duration.ts';
import type { Router } from '../mirror/router.ts';
import type { MirrorOptions } from '../mirror/schema.ts';
import type { StorageConfig } from '../storage/schema.ts';
import type { UiOptions } from './schema.ts';
import { asOciError } from '../registry/failures.ts';
import { isTag } from '../oci/names.ts';
import { errorFields, type Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Registry, StoredRegistry } from '../registry/registry.ts';
import { MirrorActivity } from './activity.ts';
import { assets } from './assets.ts';
import { Describer } from './describe.ts';
import type { MaintenanceHistory } from '../maintenance/history.ts';
import { availableFacts, type FactSources } from './facts.ts';
import type { View, Viewer } from './layout.ts';
import { blobPage } from './pages/blob.ts';
import { failed, notFound } from './pages/errors.ts';
import { loginPage } from './pages/login.ts';
import { manifestPage } from './pages/manifest.ts';
import { mirrorPage } from './pages/mirror.ts';
import { confirmPage, remove } from './pages/remove.ts';
import type { Reply, Sources } from './pages/reply.ts';
import { repositoriesPage } from './pages/repositories.ts';
import { repositoryPage } from './pages/repository.ts';
import { storagePage } from './pages/storage.ts';
import { Paths } from './paths.ts';
import { Prober } from './probe.ts';
import { Sessions, type Session } from './session.ts';
import { registrySource, repositoryName } from './source.ts';

/** The settings the UI reads: its own block, and what the storage and mirror pages show. */
export interface UiConfig {
  ui: UiOptions;
  storage: StorageConfig;
  delete: { tags: boolean; manifests: boolean };
  gc: { interval: Duration; grace: Duration; deleteUntagged: boolean };
  uploads: { purgeAfter: Duration };
  mirror: Pick<MirrorOptions, 'default' | 'retention'>;
  retention: { rules: readonly unknown[]; interval: Duration; dryRun: boolean };
}

export interface UiParts {
  registry: Registry;
  /** The stored registry `registry` decorates (itself without a mirror): what browsing reads. */
  stored: StoredRegistry;
  config: UiConfig;
  logger: Logger;
  metrics: Metrics;
  /** With access control on: sign-in and rules. */
  accounts?: Accounts | undefined;
  /** With a mirror: its router and what it did (fed by the app). */
  mirror?: { router: Router; activity: MirrorActivity } | undefined;
  /** This process's maintenance runs, for the storage and mirror pages. */
  history?: MaintenanceHistory | undefined;
  /** With `quotas.limits`: each limit's usage, for the storage page. */
  quotas?: FactSources['quotas'];
}

const cookieName = 'berth_session';

const securityHeaders: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** One request to a page: what it renders with, and the session it came with (or was given). */
interface Visit {
  view: View;
  session: Session;
  /** Set-Cookie to send with the answer (a new or renewed session). */
  cookie?: string;
}

const formLimit = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text('form too large', 413) });

export function uiRoutes(parts: UiParts): Hono {
  const { config, accounts, logger } = parts;
  const options = config.ui;
  const paths = new Paths(options.path);
  const base = paths.base;
  const sessions = new Sessions(options.session.secret, options.session.lifetime);
  if (accounts && options.session.secret === undefined) {
    logger.info('ui sessions are signed with a per-process key: sign-ins end when berth stops, and replicas need ui.session.secret');
  }
  const registry = registrySource(parts.registry, parts.stored, parts.mirror && { router: parts.mirror.router, defaultUpstream: config.mirror.default });
  const src: Sources = {
    registry,
    describer: new Describer(registry),
    facts: availableFacts(parts.metrics, {
      dataDir: config.storage.fs?.root,
      stored: parts.stored,
      mirrored: parts.mirror && ((name) => parts.mirror!.router.stores(name)),
      history: parts.history,
      quotas: parts.quotas,
    }),
    activity: parts.mirror?.activity ?? new MirrorActivity(),
    prober: new Prober(),
    pageSize: options.pageSize,
    deletes: { tags: config.delete.tags, manifests: config.delete.manifests },
    settings: {
      storage: config.storage.s3 ? 'S3' : 'local disk',
      gc: { interval: toSeconds(config.gc.interval), grace: toSeconds(config.gc.grace), deleteUntagged: config.gc.deleteUntagged },
      uploadsPurgeAfter: toSeconds(config.uploads.purgeAfter),
      retention: parts.mirror
        ? { maxAge: toSeconds(config.mirror.retention.maxAge), maxSize: config.mirror.retention.maxSize, interval: toSeconds(config.mirror.retention.interval) }
        : undefined,
      retentionRules: { rules: config.retention.rules.length, interval: toSeconds(config.retention.interval), dryRun: config.retention.dryRun },
    },
  };

  const cookieFor = (session: Session | undefined, secure: boolean): string =>
    generateCookie(cookieName, session ? sessions.encode(session) : '', {
      path: base === '' ? '/' : base,
      httpOnly: true,
      sameSite: 'Lax',
      secure,
      maxAge: session ? Math.floor(sessions.lifetimeMs / 1000) : 0,
    });

  /** Who asks and what they may do; a fresh anonymous session when there is none (or it ended). */
  async function begin(c: Context): Promise<Visit> {
    const origin = externalOrigin(c.req.url, (h) => c.req.header(h));
    const secure = origin.startsWith('https:');
    let session = sessions.decode(getCookie(c, cookieName));
    // A signed-in session ends when the user is removed or changes their password.
    if (session?.user !== undefined && (!accounts || session.stamp === undefined || (await accounts.stamp(session.user)) !== session.stamp)) session = undefined;
    let cookie: string | undefined;
    if (!session) {
      session = sessions.create();
      cookie = cookieFor(session, secure);
    }
    const user = session.user;
    const viewer: Viewer = accounts
      ? {
          authOn: true,
          user,
          mayPull: (name) => accounts.actions(user, name).has('pull'),
          mayDelete: (name) => accounts.actions(user, name).has('delete'),
          mayList: accounts.mayListCatalog(user),
        }
      : { authOn: false, mayPull: () => true, mayDelete: () => true, mayList: true };
    const view: View = {
      paths,
      viewer,
      csrf: sessions.csrfToken(session),
      host: origin.slice(origin.indexOf('://') + 3),
      insecure: !secure,
      mirrorOn: parts.mirror !== undefined,
    };
    return cookie === undefined ? { view, session } : { view, session, cookie };
  }

  function respond(req: Visit, reply: Reply): Response {
    const headers = new Headers(securityHeaders);
    headers.set('Cache-Control', 'no-store');
    if (req.cookie) headers.append('Set-Cookie', req.cookie);
    if ('redirect' in reply) {
      headers.set('Location', reply.redirect);
      return new Response(null, { status: 303, headers });
    }
    headers.set('Content-Type', 'text/html; charset=utf-8');
    return new Response(reply.body.text, { status: reply.status, headers });
  }

  /** Runs a page; a registry error becomes a page that names no internals. */
  const run = (handler: (req: Visit, c: Context) => Promise<Reply | Response>) => async (c: Context): Promise<Response> => {
    const req = await begin(c);
    try {
      const reply = await handler(req, c);
      return reply instanceof Response ? reply : respond(req, reply);
    } catch (e) {
      const known = asOciError(e);
      if (known && known.status < 500) return respond(req, notFound(req.view, 'Nothing here by that name.'));
      logger.error('ui page failed', { method: c.req.method, path: c.req.path, ...errorFields(e) });
      const unavailable = known?.status === 503;
      return respond(req, failed(req.view, unavailable ? 503 : 500, unavailable ? 'Unavailable' : 'Something went wrong', unavailable ? 'Storage is not answering; try again shortly.' : 'The page could not be made; the server log has the details.'));
    }
  };

  /** A POST must come from a page of this origin and carry the session's token. */
  async function formOf(c: Context, req: Visit): Promise<Record<string, string> | undefined> {
    const site = c.req.header('Sec-Fetch-Site');
    if (site !== undefined && site !== 'same-origin') return undefined;
    const from = c.req.header('Origin');
    if (from !== undefined && (from === 'null' || safeHost(from) !== req.view.host)) return undefined;
    let body: Record<string, unknown>;
    try {
      body = await c.req.parseBody();
    } catch {
      return undefined;
    }
    const form: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') form[k] = v;
    return sessions.checkCsrf(req.session, form.csrf) ? form : undefined;
  }

  const forbidden = (req: Visit): Reply => failed(req.view, 403, 'Refused', 'This form has expired or did not come from this site. Go back, reload the page and try again.');

  const app = new Hono();
  if (base !== '') {
    app.get('/', (c) => c.redirect(`${base}/`, 302));
    app.get(base, (c) => c.redirect(`${base}/`, 301));
  }
  app.get(`${base}/assets/:file`, (c) => {
    const asset = Object.values(assets).find((a) => a.name === c.req.param('file'));
    if (!asset) return c.text('not found', 404);
    return new Response(asset.body, { headers: { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=31536000, immutable', ...securityHeaders } });
  });

  app.get(`${base}/`, run((req, c) => repositoriesPage(req.view, src, { q: c.req.query('q'), kind: c.req.query('kind'), last: c.req.query('last'), open: c.req.query('open') })));
  app.get(`${base}/mirror`, run((req) => mirrorPage(req.view, src)));
  app.get(`${base}/storage`, run((req) => storagePage(req.view, src)));

  app.get(`${base}/repo/*`, run(async (req, c) => {
      const target = parseRepoPath(c.req.path, `${base}/repo/`);
      if (!target) return notFound(req.view, 'Nothing here by that name.');
      const { name, action, reference } = target;
      switch (action) {
        case 'download':
          return download(req, c, name, reference);
        case 'repository':
          return repositoryPage(req.view, src, name, { q: c.req.query('q'), last: c.req.query('last'), n: c.req.query('n'), deleted: c.req.query('deleted') });
        case 'manifest':
          return manifestPage(req.view, src, name, reference);
        case 'blob':
          return blobPage(req.view, src, name, reference, c.req.query('from'));
        case 'delete':
          return confirmPage(req.view, src, name, { tag: c.req.query('tag'), digest: c.req.query('digest') });
      }
  }));
  app.post(`${base}/repo/*`, formLimit, run(async (req, c) => {
    const target = parseRepoPath(c.req.path, `${base}/repo/`);
    if (target?.action !== 'delete') return notFound(req.view, 'Nothing here by that name.');
    const form = await formOf(c, req);
    if (!form) return forbidden(req);
    const tag = form.tag !== undefined && isTag(form.tag) ? form.tag : undefined;
    if (tag === undefined && form.digest === undefined) return notFound(req.view, 'Nothing to delete.');
    const result = await remove(req.view, src, target.name, tag !== undefined ? { tag } : { digest: form.digest });
    if ('redirect' in result) logger.info('ui delete', { user: req.view.viewer.user, repository: target.name, tag, digest: tag === undefined ? form.digest : undefined });
    return result;
  }));

  /** A blob's bytes, streamed, as a download: never rendered by the browser. */
  async function download(req: Visit, c: Context, name: string, digest: string): Promise<Reply | Response> {
    if (!req.view.viewer.mayPull(name)) return notFound(req.view, 'Nothing here by that name.');
    const bytes = await src.registry.blobSize(name, digest);
    const stream = bytes === undefined || c.req.method === 'HEAD' ? undefined : await src.registry.blobStream(name, digest);
    if (bytes === undefined || (!stream && c.req.method !== 'HEAD')) return notFound(req.view, `No blob ${digest} in ${name}.`);
    const headers = new Headers(securityHeaders);
    headers.set('Content-Type', 'application/octet-stream');
    headers.set('Content-Length', String(bytes));
    headers.set('Content-Disposition', `attachment; filename="${digest.replace(':', '-')}"`);
    headers.set('Cache-Control', 'private, no-store');
    if (req.cookie) headers.append('Set-Cookie', req.cookie);
    return new Response(stream ?? null, { headers });
  }

  app.get(`${base}/login`, run(async (req, c) => {
    const next = paths.safeNext(c.req.query('next'));
    if (!accounts || req.view.viewer.user !== undefined) return { redirect: next };
    return loginPage(req.view, { next });
  }));
  app.post(`${base}/login`, formLimit, run(async (req, c) => {
    if (!accounts) return { redirect: paths.home() };
    const form = await formOf(c, req);
    if (!form) return forbidden(req);
    const next = paths.safeNext(form.next);
    const user = (form.user ?? '').slice(0, 128);
    const result = await accounts.login(user, form.password ?? '', c);
    if (!result.ok) {
      const wait = result.throttled ? Number(result.throttled.headers['Retry-After'] ?? 1) : 0;
      return result.throttled
        ? loginPage(req.view, { next, user, error: `Too many failed sign-ins. Try again in ${wait} s.` }, 429)
        : loginPage(req.view, { next, user, error: 'Incorrect user name or password.' }, 401);
    }
    // A new session (and nonce) on sign-in: a token or cookie planted before it is worth nothing after.
    const session = sessions.create(result.user, await accounts.stamp(result.user));
    req.cookie = cookieFor(session, !req.view.insecure);
    logger.info('ui sign-in', { user: result.user });
    return { redirect: next };
  }));
  app.post(`${base}/logout`, formLimit, run(async (req, c) => {
    const form = await formOf(c, req);
    if (!form) return forbidden(req);
    req.cookie = cookieFor(undefined, !req.view.insecure);
    return { redirect: paths.home() };
  }));
  if (base !== '') app.all(`${base}/*`, run(async (req) => notFound(req.view, 'No such page.')));
  return app;
}

type RepoAction = 'repository' | 'manifest' | 'blob' | 'download' | 'delete';

/** `<name>[/-/manifest/<ref> | /-/blob/<digest>[/download] | /-/delete]` after the prefix. */
function parseRepoPath(path: string, prefix: string): { name: string; action: RepoAction; reference: string } | undefined {
  let rest: string;
  try {
    rest = decodeURIComponent(path.slice(prefix.length));
  } catch {
    return undefined;
  }
  const at = rest.indexOf('/-/');
  const name = repositoryName(at < 0 ? rest : rest.slice(0, at));
  if (name === undefined) return undefined;
  if (at < 0) return { name, action: 'repository', reference: '' };
  const [kind, reference = '', extra, ...more] = rest.slice(at + 3).split('/');
  if (more.length > 0) return undefined;
  if (kind === 'delete' && reference === '') return { name, action: 'delete', reference };
  if (kind === 'manifest' && reference !== '' && extra === undefined) return { name, action: 'manifest', reference };
  if (kind === 'blob' && reference !== '' && extra === undefined) return { name, action: 'blob', reference };
  if (kind === 'blob' && reference !== '' && extra === 'download') return { name, action: 'download', reference };
  return undefined;
}

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
