/** Signing in with the registry's own users (the htpasswd file and configured users). */
import { html } from '../html.ts';
import { page, type View } from '../layout.ts';
import type { Reply } from './reply.ts';

export interface LoginForm {
  next: string;
  user?: string;
  /** Why the last attempt failed. */
  error?: string;
}

export function loginPage(view: View, form: LoginForm, status = 200): Reply {
  const { paths } = view;
  const body = html`<div class="login"><h1>Sign in</h1>
${form.error ? html`<p class="error" role="alert">${form.error}</p>` : ''}
<form method="post" action="${paths.login()}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="next" value="${form.next}">
<label for="user">User name</label>
<input type="text" id="user" name="user" value="${form.user ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required ${form.user ? '' : html`autofocus`}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required ${form.user ? html`autofocus` : ''}>
<button type="submit">Sign in</button>
</form>
<p class="muted">The same user name and password as for <code>docker login ${view.host}</code>.</p></div>`;
  return { status, body: page(view, 'Sign in', 'login', body) };
}
