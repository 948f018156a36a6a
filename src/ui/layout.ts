/** What every page knows about its request, and the frame around every page. */
import { html, type Html, type Part } from './html.ts';
import type { Paths } from './paths.ts';

/** Who is looking, and what they may see and do. */
export interface Viewer {
  /** Access control is on: there is signing in and out. */
  authOn: boolean;
  user?: string | undefined;
  mayPull(name: string): boolean;
  mayDelete(name: string): boolean;
  /** May list repositories and see the registry-wide pages (mirror, storage). */
  mayList: boolean;
}

export interface View {
  paths: Paths;
  viewer: Viewer;
  /** For the forms of this page. */
  csrf: string;
  /** The registry as clients reach it, `host[:port]`, for pull commands. */
  host: string;
  /** Reached over plain HTTP: pull commands need their `--tls-verify=false` / insecure setting. */
  insecure: boolean;
  mirrorOn: boolean;
}

export type Section = 'repositories' | 'mirror' | 'storage' | 'login' | 'none';

function nav(view: View, section: Section): Html {
  const { paths, viewer } = view;
  const link = (s: Section, href: string, label: string): Html =>
    s === section ? html`<a href="${href}" aria-current="page">${label}</a>` : html`<a href="${href}">${label}</a>`;
  const who = viewer.authOn
    ? viewer.user !== undefined
      ? html`<span class="who"><span>Signed in as <strong>${viewer.user}</strong></span><form method="post" action="${paths.logout()}"><input type="hidden" name="csrf" value="${view.csrf}"><button class="link" type="submit">Sign out</button></form></span>`
      : html`<span class="who">${link('login', paths.login(), 'Sign in')}</span>`
    : '';
  return html`<header class="bar"><nav aria-label="Main">
<a class="brand" href="${paths.home()}">berth</a>
${link('repositories', paths.home(), 'Repositories')}
${view.mirrorOn && viewer.mayList ? link('mirror', paths.mirror(), 'Mirror') : ''}
${viewer.mayList ? link('storage', paths.storage(), 'Storage') : ''}
${who}
</nav></header>`;
}

/** A whole HTML document around `body`. */
export function page(view: View, title: string, section: Section, body: Part): Html {
  const { paths } = view;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · berth</title>
<link rel="stylesheet" href="${paths.asset('css')}">
<link rel="icon" href="${paths.asset('icon')}" type="image/svg+xml">
<script src="${paths.asset('js')}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${nav(view, section)}
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>`;
}
