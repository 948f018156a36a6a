import { html } from '../html.ts';
import { page, type View } from '../layout.ts';
import type { Reply } from './reply.ts';

/**
 * Not there, or not visible to this viewer: the same answer, so a page never tells a repository
 * that exists from one that does not. Anonymous viewers are offered the sign-in.
 */
export function notFound(view: View, what: string): Reply {
  const signIn = view.viewer.authOn && view.viewer.user === undefined ? html`<p><a href="${view.paths.login()}">Sign in</a> to see more.</p>` : '';
  return {
    status: 404,
    body: page(view, 'Not found', 'none', html`<h1>Not found</h1><p>${what}</p>${signIn}<p><a href="${view.paths.home()}">All repositories</a></p>`),
  };
}

export function failed(view: View, status: number, title: string, message: string): Reply {
  return { status, body: page(view, title, 'none', html`<h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="${view.paths.home()}">All repositories</a></p>`) };
}
